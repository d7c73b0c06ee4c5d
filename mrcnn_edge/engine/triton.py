"""`mrcnn-edge export-triton`: a Triton Inference Server model repository for an engine or an ONNX model.

<repo>/<name>/config.pbtxt, <repo>/<name>/1/model.plan (TensorRT) or model.onnx (ONNX Runtime),
<repo>/<name>/mrcnn_edge.json (classes, input size: what a client needs) and <repo>/README.txt.
Shapes and types come from the model itself (the ONNX graph, or the graph the engine was built
from, recorded in .engine.json), so the config cannot drift from the model.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import onnx

from ..errors import UserError
from ..sidecar import read_sidecar, sidecar_path
from .result import model_stem
from .metadata import CONTRACT, check_contract, engine_metadata_path, onnx_io, read_engine_metadata

TRITON_TYPES = {"uint8": "TYPE_UINT8", "int32": "TYPE_INT32", "float32": "TYPE_FP32"}
PLATFORMS = {".engine": ("tensorrt_plan", "model.plan", "gpu"), ".onnx": ("onnxruntime_onnx", "model.onnx", "cpu")}


@dataclass(frozen=True)
class TritonResult:
    repository: str
    config: str
    platform: str
    max_batch_size: int

    def summary(self) -> str:
        batching = f"dynamic batching up to {self.max_batch_size}" if self.max_batch_size else "fixed batch"
        return f"wrote {self.config} ({self.platform}, {batching}); serve with: see {self.repository}/README.txt"


def _tensor(name: str, spec: dict, batched: bool) -> str:
    """One input/output entry. With batching Triton owns the first axis: a [B] tensor is dims [1]
    reshaped to [] (Triton rejects empty dims)."""
    dims = spec["shape"][1:] if batched else spec["shape"]
    shape = f"dims: [ {', '.join(map(str, dims))} ]" if dims else "dims: [ 1 ] reshape: { shape: [ ] }"
    return f'  {{ name: "{name}" data_type: {TRITON_TYPES[spec["dtype"]]} {shape} }}'


def config_pbtxt(name: str, platform: str, io: dict[str, dict], max_batch_size: int, kind: str, count: int,
                 plugin: dict | None = None) -> str:
    """config.pbtxt text. max_batch_size 0: no batching, dims are the full shapes."""
    batched = max_batch_size > 0
    outputs = [n for n in CONTRACT if n != "images"]
    lines = []
    if plugin:
        lines += [f"# Needs the plugin library {plugin['path']} (sha256 {plugin['sha256']}) loaded into",
                  f"# tritonserver, e.g. LD_PRELOAD={plugin['path']}: see README.txt in the repository root."]
    lines += [f'name: "{name}"', f'platform: "{platform}"', f"max_batch_size: {max_batch_size}",
              "input [", _tensor("images", io["images"], batched), "]",
              "output [", ",\n".join(_tensor(n, io[n], batched) for n in outputs), "]",
              f"instance_group [ {{ count: {count} kind: KIND_{kind.upper()} }} ]"]
    if batched:
        lines.append("dynamic_batching { }")
    return "\n".join(lines) + "\n"


def _readme(name: str, platform: str, plugin: dict | None, tensorrt_version: str | None) -> str:
    lines = [f"Triton model repository written by `mrcnn-edge export-triton` ({name}, {platform}).", "",
             "Serve:  tritonserver --model-repository=$(pwd)"]
    if plugin:
        lines += ["", f"The engine contains mrcnn-edge TensorRT plugins from {plugin['path']}",
                  f"(sha256 {plugin['sha256']}). tritonserver must load that library:",
                  f"  LD_PRELOAD={plugin['path']} tritonserver --model-repository=$(pwd)",
                  f"  (or --backend-config=tensorrt,plugins={plugin['path']})",
                  "Both only dlopen the library. Its creators register through getCreators, which",
                  "IPluginRegistry::loadLibrary calls, not at load time: unless the library registers",
                  "them when loaded, Triton will report the plugins as not found.",
                  f"The server's TensorRT must be {tensorrt_version} on the GPU the engine was built for;",
                  "otherwise rebuild the engine (and the plugin) inside the Triton container."]
    lines += ["", f"{name}/mrcnn_edge.json holds the class names and input size a client needs to letterbox",
              "frames (uint8 RGB, NCHW) and to read the outputs."]
    return "\n".join(lines) + "\n"


def _source(model_path: str, max_batch: int) -> tuple[dict, dict, int, dict | None, str | None]:
    """(io, sidecar fields, max_batch_size, plugin, TensorRT version) of an .engine or an .onnx."""
    if model_path.endswith(".engine"):
        meta = read_engine_metadata(model_path)
        engine = meta["engine"]
        batch = engine.get("batch")
        plugin = {"path": engine["plugin_library"], "sha256": engine["plugin_sha256"]}
        return engine["io"], meta, batch["max"] if batch else 0, plugin, engine["tensorrt_version"]
    plugin_ops = {n.op_type for n in onnx.load(model_path, load_external_data=False).graph.node
                  if n.op_type.endswith("_TRT")}
    if plugin_ops:
        raise UserError(f"{model_path} has TensorRT plugin nodes ({', '.join(sorted(plugin_ops))}) that ONNX "
                        "Runtime cannot run: export model.onnx or its int8 model, or build an engine")
    io = onnx_io(model_path)
    return io, read_sidecar(model_path), max_batch if io["images"]["shape"][0] == -1 else 0, None, None


def export_triton(model_path: str, repository: str, *, name: str | None = None, instances: int = 1,
                  kind: str | None = None, max_batch: int = 8) -> TritonResult:
    """Write the repository for `model_path` (.engine or .onnx). kind: "gpu" | "cpu" (default: GPU for an
    engine, CPU for ONNX); max_batch: the ONNX model's batch limit when its batch axis is dynamic
    (an engine's comes from its optimisation profile)."""
    ext = os.path.splitext(model_path)[1]
    if ext not in PLATFORMS:
        raise UserError(f"unsupported model file {model_path}: pass an .engine or an .onnx")
    if not os.path.isfile(model_path):
        raise UserError(f"model not found: {model_path}")
    if instances < 1 or max_batch < 1:
        raise UserError("--instances and --max-batch must be at least 1")
    platform, filename, default_kind = PLATFORMS[ext]
    kind = kind or default_kind
    if kind not in ("gpu", "cpu") or (ext == ".engine" and kind != "gpu"):
        raise UserError(f"--kind {kind}: choose gpu or cpu (an engine runs on the GPU only)")
    io, info, max_batch_size, plugin, tensorrt_version = _source(model_path, max_batch)
    check_contract(io, model_path)
    name = name or f"{model_stem(model_path)}_{info.get('precision', 'fp32')}"
    model_dir = os.path.join(repository, name)
    os.makedirs(os.path.join(model_dir, "1"), exist_ok=True)
    shutil.copyfile(model_path, os.path.join(model_dir, "1", filename))
    metadata = engine_metadata_path(model_path) if ext == ".engine" else sidecar_path(model_path)
    shutil.copyfile(metadata, os.path.join(model_dir, "mrcnn_edge.json"))
    config = os.path.join(model_dir, "config.pbtxt")
    with open(config, "w") as f:
        f.write(config_pbtxt(name, platform, io, max_batch_size, kind, instances, plugin))
    with open(os.path.join(repository, "README.txt"), "w") as f:
        f.write(_readme(name, platform, plugin, tensorrt_version))
    return TritonResult(repository, config, platform, max_batch_size)
