"""`mrcnn-edge export-triton`: a Triton Inference Server model repository for an engine or an ONNX model.

<repo>/<name>/config.pbtxt, <repo>/<name>/1/model.plan (TensorRT), model.onnx (ONNX Runtime backend), or
model.onnx + model.py (Triton's Python backend running ONNX Runtime), <repo>/<name>/mrcnn_edge.json and
<repo>/README.txt. Shapes and types come from the model itself (the ONNX graph, or the graph the engine was
built from, recorded in .engine.json), so the config cannot drift from the model. What a client needs
(class names, input size, precision) is in the config's `parameters`, which every client reads from the
server (`mrcnn_edge.runtime.backends.triton_backend`).
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass

from ..contract import check_contract, heads_of, outputs_for
from ..engine.metadata import onnx_io, read_engine_metadata
from ..errors import UserError
from ..files import REEXPORT, read_onnx
from ..names import AUTOREG_LIBRARY, engine_metadata_path, model_stem
from ..sidecar import read_sidecar, sidecar_path

TRITON_TYPES = {"uint8": "TYPE_UINT8", "int32": "TYPE_INT32", "float32": "TYPE_FP32"}
# (model file, --kind) -> (Triton backend, the config line naming it, file in the version folder, instance kind)
FLAVOURS = {
    (".engine", "gpu"): ("tensorrt_plan", 'platform: "tensorrt_plan"', "model.plan", "GPU"),
    (".onnx", "gpu"): ("onnxruntime_onnx", 'platform: "onnxruntime_onnx"', "model.onnx", "GPU"),
    (".onnx", "cpu"): ("onnxruntime_onnx", 'platform: "onnxruntime_onnx"', "model.onnx", "CPU"),
    (".onnx", "python"): ("python", 'backend: "python"', "model.onnx", "CPU"),
}
DEFAULT_KIND = {".engine": "gpu", ".onnx": "cpu"}
# The sidecar fields a client reads from the config's parameters (JSON-encoded string values): what
# runtime.Predictor reads from a local sidecar, so a served model decodes as the same file run locally.
CLIENT_PARAMETERS = ("arch", "classes", "input_size", "precision", "detections", "paste", "heads",
                     "keypoint_layout", "keypoint_decode")
PYTHON_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "triton_python_model.py")


@dataclass(frozen=True)
class TritonResult:
    repository: str
    config: str
    platform: str  # the Triton backend: tensorrt_plan | onnxruntime_onnx | python
    max_batch_size: int

    def summary(self) -> str:
        batching = f"dynamic batching up to {self.max_batch_size}" if self.max_batch_size else "fixed batch"
        return (f"wrote {self.config} ({self.platform}, {batching}); serve with: mrcnn-edge serve --repository "
                f"{self.repository} (see {self.repository}/README.txt)")


def _tensor(name: str, spec: dict, batched: bool) -> str:
    """One input/output entry. With batching Triton owns the first axis: a [B] tensor is dims [1]
    reshaped to [] (Triton rejects empty dims)."""
    dims = spec["shape"][1:] if batched else spec["shape"]
    shape = f"dims: [ {', '.join(map(str, dims))} ]" if dims else "dims: [ 1 ] reshape: { shape: [ ] }"
    return f'  {{ name: "{name}" data_type: {TRITON_TYPES[spec["dtype"]]} {shape} }}'


def _quoted(text: str) -> str:
    """A protobuf text-format string literal (JSON's escapes are not all valid there: only \\ and ")."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parameters(values: dict) -> list[str]:
    entries = [f"  {{ key: {_quoted(k)} value: {{ string_value: {_quoted(json.dumps(v, ensure_ascii=False))} }} }}"
               for k, v in values.items()]
    return ["parameters [", ",\n".join(entries), "]"] if entries else []


def config_pbtxt(name: str, platform: str, io: dict[str, dict], max_batch_size: int, kind: str, count: int,
                 plugin: dict | None = None, parameters: dict | None = None) -> str:
    """config.pbtxt text. platform: a FLAVOURS config line ('platform: "..."' or 'backend: "..."');
    max_batch_size 0: no batching, dims are the full shapes; parameters: JSON-encoded string values."""
    batched = max_batch_size > 0
    outputs = list(outputs_for(heads_of(io) or ("mask",)))
    lines = []
    if plugin:
        lines += [f"# Needs our TensorRT plugins registered in tritonserver: LD_PRELOAD={plugin['autoreg']}",
                  f"# (built with {plugin['path']}, sha256 {plugin['sha256']}): see README.txt in the repository root."]
    lines += [f'name: "{name}"', platform, f"max_batch_size: {max_batch_size}",
              "input [", _tensor("images", io["images"], batched), "]",
              "output [", ",\n".join(_tensor(n, io[n], batched) for n in outputs), "]",
              f"instance_group [ {{ count: {count} kind: KIND_{kind} }} ]"]
    if batched:
        lines.append("dynamic_batching { }")
    lines += _parameters(parameters or {})
    return "\n".join(lines) + "\n"


def _readme(name: str, backend: str, plugin: dict | None, tensorrt_version: str | None) -> str:
    lines = [f"Triton model repository written by `mrcnn-edge export-triton` ({name}, {backend}).", "",
             "Serve:  mrcnn-edge serve --repository $(pwd)",
             "   or:  tritonserver --model-repository=$(pwd)   (in NVIDIA's Triton container)"]
    if backend == "python":
        lines += ["", f"{name}/1/model.py runs {name}/1/model.onnx in ONNX Runtime inside Triton's Python backend. It",
                  "needs numpy < 2 and onnxruntime in the python3 the backend's stub runs (`mrcnn-edge serve`",
                  "makes that environment once; in NVIDIA's container: pip install 'numpy<2' onnxruntime)."]
    if plugin:
        lines += ["", f"The engine contains mrcnn-edge TensorRT plugins (built with {plugin['path']},",
                  f"sha256 {plugin['sha256']}). tritonserver must have their creators registered before",
                  f"it deserialises the engine: preload {AUTOREG_LIBRARY} from the same build, whose",
                  "load-time constructor registers them:",
                  f"  LD_PRELOAD={plugin['autoreg']} tritonserver --model-repository=$(pwd)",
                  f"Not {os.path.basename(plugin['path'])} itself: it only exports getCreators, which a plain dlopen",
                  "(LD_PRELOAD, or --backend-config=tensorrt,plugins=...) never calls.",
                  f"The server's TensorRT must be {tensorrt_version} on the GPU the engine was built for;",
                  "otherwise rebuild the engine (and the plugin libraries) inside the Triton container."]
    lines += ["", f"The config's parameters (and {name}/mrcnn_edge.json) hold the class names and input size a client",
              "needs to letterbox frames (uint8 RGB, NCHW) and to read the outputs:",
              f"  mrcnn-edge run --model triton://HOST:8001/{name} --source VIDEO"]
    return "\n".join(lines) + "\n"


def _source(model_path: str, max_batch: int) -> tuple[dict, dict, int, dict | None, str | None]:
    """(io, sidecar fields, max_batch_size, plugin, TensorRT version) of an .engine or an .onnx."""
    if model_path.endswith(".engine"):
        meta = read_engine_metadata(model_path)
        engine = meta["engine"]
        batch = engine.get("batch")
        library = engine["plugin_library"]
        plugin = {"path": library, "sha256": engine["plugin_sha256"],
                  "autoreg": os.path.join(os.path.dirname(library), AUTOREG_LIBRARY)}
        return engine["io"], meta, batch["max"] if batch else 0, plugin, engine["tensorrt_version"]
    plugin_ops = {n.op_type for n in read_onnx(model_path, weights=False, fix=REEXPORT).graph.node
                  if n.op_type.endswith("_TRT")}
    if plugin_ops:
        raise UserError(f"{model_path} has TensorRT plugin nodes ({', '.join(sorted(plugin_ops))}) that ONNX "
                        "Runtime cannot run: export model.onnx or its int8 model, or build an engine")
    io = onnx_io(model_path)
    return io, read_sidecar(model_path), max_batch if io["images"]["shape"][0] == -1 else 0, None, None


def _flavour(model_path: str, kind: str | None) -> tuple[str, tuple[str, str, str, str]]:
    ext = os.path.splitext(model_path)[1]
    if ext not in DEFAULT_KIND:
        raise UserError(f"unsupported model file {model_path}: pass an .engine or an .onnx")
    if not os.path.isfile(model_path):
        raise UserError(f"model not found: {model_path}")
    kind = kind or DEFAULT_KIND[ext]
    if (ext, kind) not in FLAVOURS:
        raise UserError(f"--kind {kind}: choose gpu, cpu or python for an .onnx (an engine runs on the GPU only)")
    return kind, FLAVOURS[ext, kind]


def export_triton(model_path: str, repository: str, *, name: str | None = None, instances: int = 1,
                  kind: str | None = None, max_batch: int = 8, threads: int = 0) -> TritonResult:
    """Write the repository for `model_path` (.engine or .onnx). kind: "gpu" | "cpu" (Triton's TensorRT or
    ONNX Runtime backend; default: GPU for an engine, CPU for ONNX) | "python" (an .onnx in ONNX Runtime
    inside Triton's Python backend, for servers without the ONNX Runtime backend); max_batch: the ONNX
    model's batch limit when its batch axis is dynamic (an engine's comes from its optimisation profile);
    threads: ONNX Runtime's intra-op threads per instance of the python kind (0: ONNX Runtime's default)."""
    kind, (backend, platform, filename, instance_kind) = _flavour(model_path, kind)
    if instances < 1 or max_batch < 1 or threads < 0:
        raise UserError("--instances and --max-batch must be at least 1, --threads at least 0")
    io, info, max_batch_size, plugin, tensorrt_version = _source(model_path, max_batch)
    check_contract(io, model_path, size=info.get("input_size"))
    name = name or f"{model_stem(model_path)}_{info.get('precision', 'fp32')}"
    model_dir = os.path.join(repository, name)
    os.makedirs(os.path.join(model_dir, "1"), exist_ok=True)
    shutil.copyfile(model_path, os.path.join(model_dir, "1", filename))
    if backend == "python":
        shutil.copyfile(PYTHON_MODEL, os.path.join(model_dir, "1", "model.py"))
    metadata = engine_metadata_path(model_path) if model_path.endswith(".engine") else sidecar_path(model_path)
    shutil.copyfile(metadata, os.path.join(model_dir, "mrcnn_edge.json"))
    parameters = {k: info[k] for k in CLIENT_PARAMETERS if k in info}
    if backend == "python":
        parameters["intra_op_threads"] = threads
    config = os.path.join(model_dir, "config.pbtxt")
    with open(config, "w") as f:
        f.write(config_pbtxt(name, platform, io, max_batch_size, instance_kind, instances, plugin, parameters))
    with open(os.path.join(repository, "README.txt"), "w") as f:
        f.write(_readme(name, backend, plugin, tensorrt_version))
    return TritonResult(repository, config, backend, max_batch_size)
