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

import onnx

from ..contract import CONTRACT, DETECTION_OUTPUTS, HEAD_OUTPUTS, INPUT, heads_of, outputs_for
from ..errors import UserError
from ..files import REEXPORT, read_onnx
from ..names import PLUGIN_LIBRARY, engine_metadata_path

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The output contract of ARCHITECTURE.md: tensor name -> numpy dtype name.
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
    graph = read_onnx(onnx_path, weights=False, fix=REEXPORT).graph
    io = {}
    for value in list(graph.input) + list(graph.output):
        tensor = value.type.tensor_type
        io[value.name] = {"dtype": onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name,
                          "shape": [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]}
    return io


def check_contract(io: dict[str, dict], path: str) -> None:
    """A UserError unless `io` has the contract's input, detection outputs and at least one head's output,
    each of its type, and a fixed image size. A head a model lacks (keypoints on a Mask R-CNN) is no error."""
    names = (INPUT, *outputs_for(heads_of(io) or ("mask",)))
    wrong = [f"{name} {CONTRACT[name]}" for name in names if io.get(name, {}).get("dtype") != CONTRACT[name]]
    images = io.get(INPUT, {}).get("shape", [])
    if wrong or len(images) != 4 or min(images[1:]) <= 0:
        heads = " and/or ".join(HEAD_OUTPUTS.values())
        raise UserError(f"{path} is not an mrcnn-edge model: it needs uint8 images [B,3,H,W] with fixed H, W and "
                        f"outputs {', '.join(DETECTION_OUTPUTS)} with {heads}"
                        + (f" (wrong or missing: {', '.join(wrong)})" if wrong else ""))


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
