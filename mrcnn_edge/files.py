"""Small file helpers shared by the stages."""
from __future__ import annotations

import hashlib
import os
import shutil


def sha256_of(path: str) -> str:
    """sha256 of a file, read in 1 MiB blocks (checkpoints and engines are large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def link_or_copy(src: str, dst: str) -> bool:
    """dst becomes src's content: a hard link where the file system allows (True), else a copy (False)."""
    if os.path.lexists(dst):
        os.remove(dst)
    try:
        os.link(src, dst)
        return True
    except OSError:  # another file system, or one without hard links
        shutil.copyfile(src, dst)
        return False


REEXPORT = "re-export it with `mrcnn-edge export` (and `surgery`)"  # the fix for a broken model file


def read_onnx(path: str, *, weights: bool = True, fix: str = "pass a .onnx file"):
    """The ONNX model at path (weights: also its external data); a file that is not one, truncated or foreign,
    is a UserError in one line ending with `fix`."""
    import onnx

    from .errors import UserError

    try:
        return onnx.load(path, load_external_data=weights)
    except Exception as e:  # protobuf decode errors carry no useful detail for a user
        raise UserError(f"{path} is not an ONNX model ({type(e).__name__}): {fix}") from None
