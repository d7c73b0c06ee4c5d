"""What an engine depends on, written at build time and checked before it runs.

An engine runs only with the TensorRT release, the GPU model and the plugin binary it was built
with: TensorRT refuses (or, for a plugin, silently misreads) anything else. `.engine.json` records
the three, and `check_engine_metadata` turns a mismatch into one line that says to rebuild.
No TensorRT import here: the check is pure so that it is tested on machines without a GPU.
"""
from __future__ import annotations

import glob
import json
import os
from typing import Any

from ..contract import check_contract, graph_io
from ..errors import UserError
from ..files import REEXPORT, read_onnx
from ..names import PLUGIN_LIBRARY, engine_metadata_path
from ..sidecar import read_sidecar, sidecar_path

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# (key in .engine.json "engine", what it is): each must equal this machine's value.
CHECKED = (("tensorrt_version", "TensorRT"), ("gpu", "GPU"), ("compute_capability", "compute capability"),
           ("plugin_sha256", "plugin library sha256"))


def import_tensorrt() -> Any:
    """The tensorrt module, or None where it is not installed. `tensorrt-stubs` alone leaves an
    importable namespace package without `Builder`: that counts as not installed."""
    try:
        import tensorrt
    except (ImportError, OSError):  # OSError: Python bindings present, libnvinfer missing
        return None
    return tensorrt if hasattr(tensorrt, "Builder") else None


def plugin_library(path: str | None = None) -> str:
    """The plugin library: `path`, else $MRCNN_EDGE_PLUGINS, else the CMake build tree of this checkout."""
    path = path or os.environ.get("MRCNN_EDGE_PLUGINS")
    if path is None:
        found = sorted(glob.glob(os.path.join(_REPO, "build", "cmake", "**", PLUGIN_LIBRARY), recursive=True))
        path = found[0] if found else os.path.join(_REPO, "build", "cmake", PLUGIN_LIBRARY)
    if not os.path.isfile(path):
        raise UserError(f"plugin library not found: {path} (build it with `cmake -S . -B build/cmake "
                        "-DTensorRT_ROOT=<TensorRT> && cmake --build build/cmake`, or pass --plugins)")
    return os.path.realpath(path)


def onnx_io(onnx_path: str) -> dict[str, dict]:
    """Inputs and outputs of a graph: name -> {"dtype": numpy name, "shape": dims, -1 where symbolic}."""
    return graph_io(read_onnx(onnx_path, weights=False, fix=REEXPORT).graph)


def check_onnx_contract(onnx_path: str) -> dict[str, dict]:
    """The graph's `onnx_io`, held to the output contract (contract.check_contract), with the input size its
    sidecar declares where it has one: what the build stages check before they start."""
    io = onnx_io(onnx_path)
    size = read_sidecar(onnx_path)["input_size"] if os.path.isfile(sidecar_path(onnx_path)) else None
    check_contract(io, onnx_path, size=size)
    return io


def read_engine_metadata(engine_path: str) -> dict:
    path = engine_metadata_path(engine_path)
    if not os.path.isfile(path):
        raise UserError(f"{engine_path} has no {os.path.basename(path)}: rebuild it with `mrcnn-edge build`")
    try:
        with open(path) as f:
            meta = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{path} is not valid JSON: rebuild the engine with `mrcnn-edge build`") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("engine"), dict):
        raise UserError(f"{path} is not mrcnn-edge engine metadata: rebuild the engine with `mrcnn-edge build`")
    return meta


def check_engine_metadata(meta: dict, runtime: dict, engine: str = "the engine") -> None:
    """A one-line UserError unless the engine was built for `runtime` (this machine: see CHECKED)."""
    built: dict = meta["engine"] if isinstance(meta.get("engine"), dict) else {}
    rebuild = (f"rebuild it here with `mrcnn-edge build --model {built.get('onnx', 'model.onnx')} "
               f"--precision {meta.get('precision', 'fp32')}`")
    for key, what in CHECKED:
        if key not in built:
            raise UserError(f"{engine}'s metadata lacks {key}: {rebuild}")
        if built[key] != runtime[key]:
            ours, theirs = (v[:12] if key == "plugin_sha256" else v for v in (built[key], runtime[key]))
            raise UserError(f"{engine} was built for {what} {ours} but this machine has {theirs}: {rebuild}")
