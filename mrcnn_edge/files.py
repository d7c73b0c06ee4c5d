"""Small file helpers shared by the stages."""
from __future__ import annotations

import hashlib


def sha256_of(path: str) -> str:
    """sha256 of a file, read in 1 MiB blocks (checkpoints and engines are large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
