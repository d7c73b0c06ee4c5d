"""What the backends that run an .onnx file (ONNX Runtime, OpenVINO) share: the caches they keep beside the
model, and the view of a session's tensors that the contract check reads."""
from __future__ import annotations

import glob
import hashlib
import os



def cache_key(model_path: str, passes: str) -> str:
    """A backend cache's key: the model's size and mtime, so a re-exported model never runs a stale
    cache, and a tag that changes when the graph passes change."""
    stat = os.stat(model_path)
    return hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}:{passes}".encode()).hexdigest()[:12]


def stale_caches(model_path: str, suffix: str) -> list[str]:
    """This model's caches with any key (`<stem>.<key><suffix>`): exactly 12 hex digits, so that the caches
    of model.int8.onnx never count as those of model.onnx."""
    return glob.glob(f"{glob.escape(os.path.splitext(model_path)[0])}.{'[0-9a-f]' * 12}{suffix}")


# ONNX Runtime's type names -> numpy's, as contract.check_contract reads them
_ORT_DTYPES = {"tensor(uint8)": "uint8", "tensor(int32)": "int32", "tensor(int64)": "int64", "tensor(float)": "float32",
               "tensor(float16)": "float16", "tensor(double)": "float64", "tensor(bfloat16)": "bfloat16"}


def session_io(session) -> dict[str, dict]:
    """An ONNX Runtime session's inputs and outputs as contract.check_contract reads them (contract.graph_io's
    form: numpy's dtype names, -1 for a symbolic dim)."""
    return {arg.name: {"dtype": _ORT_DTYPES.get(arg.type, arg.type),
                       "shape": [d if isinstance(d, int) else -1 for d in arg.shape or []]}
            for arg in [*session.get_inputs(), *session.get_outputs()]}
