"""Small file helpers shared by the stages."""
from __future__ import annotations

import hashlib
import os
import shutil
from contextlib import contextmanager
from typing import Iterator


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


@contextmanager
def write_atomic(path: str, *, suffix: str = ".tmp") -> Iterator[str]:
    """A name beside path (path + suffix) for the block to write to, renamed over path when the block ends
    without an error, so that a reader sees the old file or the whole new one, never half of one; removed
    when the block raises, so that no half file stays behind. A writer that reads the format from the name
    keeps it through suffix (`.tmp.mp4` for cv2's VideoWriter); a suffix with the process id keeps two
    processes writing the same path apart. A folder written there replaces a folder at path.

        with write_atomic(path) as tmp, open(tmp, "w") as f:
            json.dump(report, f)
    """
    tmp = path + suffix
    _remove(tmp)  # what a killed run left
    try:
        yield tmp
        if os.path.isdir(tmp) and not os.path.islink(tmp):
            shutil.rmtree(path, ignore_errors=True)  # os.replace moves a folder only onto none or an empty one
        os.replace(tmp, path)
    finally:
        _remove(tmp)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


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
