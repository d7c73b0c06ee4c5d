"""`mrcnn-edge export-deepstream`: a DeepStream bundle (nvinfer config, labels, deepstream-app config) for a model.

DIR/config_infer_primary_mrcnn_edge.txt  nvinfer: instance segmentation through our parser library
DIR/labels.txt                           the class names, background excluded (nvinfer's class id 0 is ours 1)
DIR/deepstream_app_config.txt            `deepstream-app -c`: N file sources -> nvstreammux -> nvinfer -> nvdsosd
                                         (masks drawn) -> an MP4 file sink
DIR/<model>.nvinfer.onnx + .json         from an .onnx: its float-input flavour (export/float_input.py), which
                                         nvinfer builds into an engine on the device; or DIR/<model>.engine
DIR/README.txt                           how to build the parser library and run it

The parser library is plugins/deepstream (CMake target mrcnn_edge_nvds_parser). Our TensorRT plugins come
from libmrcnn_edge_plugins_autoreg.so through LD_PRELOAD: see PLUGIN_LOADING. Files only, never numerics.
"""
from __future__ import annotations

import os
import shutil
import textwrap
from dataclasses import dataclass


from ..contract import INPUT, OUTPUTS, check_contract
from ..errors import UserError
from ..files import read_onnx
from ..export.float_input import write_float_input
from ..names import AUTOREG_LIBRARY, plugin_graph_path
from ..sidecar import read_sidecar
from ..engine.metadata import onnx_io, read_engine_metadata
from .nvinfer_keys import APP_GROUPS, NVDSINFER_MAX_BATCH_SIZE, config_problems

INFER_CONFIG = "config_infer_primary_mrcnn_edge.txt"
APP_CONFIG = "deepstream_app_config.txt"
TRACKER_CONFIG = "config_tracker_IOU.yml"
TRACKER_LIBRARY = "/opt/nvidia/deepstream/deepstream/lib/libnvds_nvmultiobjecttracker.so"
# NVIDIA's multi-object tracker library with its IOU tracker: association by box IoU and size, no visual
# features, like ByteTrack's (`run --track`). Keys as NVIDIA's sample config_tracker_IOU.yml and the Gst-nvtracker
# docs' "Configuration parameters" tables (https://docs.nvidia.com/metropolis/deepstream/dev-guide/text/
# DS_plugin_gst-nvtracker.html); every key is in nvinfer_keys.TRACKER_YAML_KEYS, checked by the tests. For NvDCF (visual features, steadier through occlusion), point ll-config-file at
# DeepStream's own samples/configs/deepstream-app/config_tracker_NvDCF_perf.yml instead.
TRACKER_YAML = """\
%YAML:1.0
# nvtracker's low-level config (mrcnn-edge export-deepstream): the IOU tracker of libnvds_nvmultiobjecttracker.so
BaseConfig:
  minDetectorConfidence: 0.0      # nvinfer's pre-cluster-threshold has already filtered
TargetManagement:
  maxTargetsPerStream: 150
  minIouDiff4NewTarget: 0.5       # a detection overlapping a target more than this starts no new one
  probationAge: 1                 # frames before a new target's id is shown (ByteTrack confirms on its 2nd)
  maxShadowTrackingAge: 30        # frames a lost target is kept (ByteTrack's track buffer, `run --track`)
  earlyTerminationAge: 1
DataAssociator:
  dataAssociatorType: 0           # 0: the default associator
  associationMatcherType: 0       # 0: greedy, 1: global (cascaded)
  checkClassMatch: 1              # a target keeps its class
  minMatchingScore4Overall: 0.0
  minMatchingScore4SizeSimilarity: 0.0
  minMatchingScore4Iou: 0.1
  matchingScoreWeight4SizeSimilarity: 0.4
  matchingScoreWeight4Iou: 0.6
"""
LABELS = "labels.txt"
PARSER_LIBRARY = "libmrcnn_edge_nvds_parser.so"
PARSE_FUNCTION = "NvDsInferParseCustomMrcnnEdge"
# NvDsInferNetworkMode (nvdsinfer_context.h): FP32 0, INT8 1, FP16 2. Our fp16/int8 graphs carry their types
# and Q/DQ nodes themselves; the mode only lets TensorRT use them. bf16 has no mode.
NETWORK_MODE = {"fp32": 0, "int8": 1, "fp16": 2}
SAMPLE_URI = "file:///opt/nvidia/deepstream/deepstream/samples/streams/sample_1080p_h264.mp4"
PLUGIN_LOADING = (
    "nvinfer dlopen()s custom-lib-path and looks the parse function up in it; a TensorRT plugin in a custom library is "
    "registered by that dlopen() alone, 'there is no further direct interaction between the custom library and "
    "Gst-nvinfer' (DeepStream Plugin Manual, IPlugin Interface, How to Use IPluginCreator). So what TensorRT needs is "
    "the creators registered in the process before nvinfer builds or deserialises the engine, which "
    f"{AUTOREG_LIBRARY} does at load time; LD_PRELOAD loads it before anything else (the same library and path "
    "as Triton's, plugins/README.md). One library holding both would make the parser library depend on CUDA, "
    "TensorRT and our kernels, which the parser must not (it builds and is tested with a plain C++ compiler).")


@dataclass(frozen=True)
class DeepStreamResult:
    directory: str
    config: str
    app_config: str
    model: str  # the model nvinfer loads: the float-input .onnx or the .engine
    batch: int
    plugin_graph: str | None = None  # the .trt.onnx surgery wrote, where a plain model.onnx was passed

    def summary(self) -> str:
        surgery = f"surgery wrote {self.plugin_graph}; " if self.plugin_graph else ""
        return (f"{surgery}wrote {self.config} (batch {self.batch}, {os.path.basename(self.model)}); run with: "
                f"LD_PRELOAD={AUTOREG_LIBRARY} deepstream-app -c {self.app_config} (see {self.directory}/README.txt)")


@dataclass(frozen=True)
class _Source:
    info: dict  # the sidecar fields (classes, input_size, precision, score_threshold)
    io: dict
    max_batch: int  # the model's batch limit
    plugin: str | None  # the autoreg library an engine was built with


def _check_args(model_path: str, batch: int, score_threshold: float | None) -> str:
    if not 1 <= batch <= NVDSINFER_MAX_BATCH_SIZE:
        raise UserError(f"--batch {batch}: pass 1..{NVDSINFER_MAX_BATCH_SIZE} (nvinfer's batch-size range)")
    if score_threshold is not None and not 0 <= score_threshold <= 1:
        raise UserError(f"--score-threshold {score_threshold}: pass a score in 0..1")
    ext = ".engine" if model_path.endswith(".engine") else ".onnx" if model_path.endswith(".onnx") else None
    if ext is None:
        raise UserError(f"unsupported model file {model_path}: pass an .onnx, .trt.onnx or .engine")
    if not os.path.isfile(model_path):
        raise UserError(f"model not found: {model_path}")
    return ext


def _engine_source(path: str) -> _Source:
    engine = read_engine_metadata(path)
    built = engine["engine"]
    io = built.get("io", {})
    if io.get(INPUT, {}).get("dtype") != "float32":
        raise UserError(f"{path} takes {io.get(INPUT, {}).get('dtype', 'an unknown')} images, but nvinfer feeds float "
                        "planes: pass the .trt.onnx it was built from (export-deepstream writes its float-input "
                        "flavour and nvinfer builds the engine on the device)")
    batch = built.get("batch")
    library = built.get("plugin_library")
    return _Source(engine, io, batch["max"] if batch else io[INPUT]["shape"][0],
                   os.path.join(os.path.dirname(library), AUTOREG_LIBRARY) if library else None)


def _has_plugins(path: str) -> bool:
    graph = read_onnx(path, weights=False, fix="re-export it with `mrcnn-edge export`").graph
    return any(n.op_type.endswith("_TRT") for n in graph.node)


def _with_plugins(path: str) -> str | None:
    """A plain model.onnx gets its plugin graph beside it, as `build` makes it (TensorRT cannot build the NMS and
    RoIAlign regions themselves); the .trt.onnx written, or None where `path` has the plugins already."""
    from ..surgery.surgeon import surgeon

    return None if _has_plugins(path) else surgeon(path, plugin_graph_path(path)).path


def _onnx_source(path: str) -> _Source:
    info = read_sidecar(path)
    io = onnx_io(path)
    check_contract(io, path, size=info["input_size"])
    batch = io[INPUT]["shape"][0]
    return _Source(info, io, NVDSINFER_MAX_BATCH_SIZE if batch == -1 else batch, None)


def _check_batch(path: str, source: _Source, batch: int) -> None:
    if "mask" not in source.info.get("heads", ("mask",)):
        raise UserError(f"{path} has no mask head ({', '.join(source.info['heads'])} only): the DeepStream bundle is "
                        "nvinfer's instance-segmentation output (network-type 3) with our mask parser; serve a "
                        "keypoint model with `mrcnn-edge export-triton`, or run it with `mrcnn-edge run`")
    if batch > source.max_batch:
        fix = ("re-export it with `mrcnn-edge export --dynamic-batch`" if source.max_batch == 1 and
               path.endswith(".onnx") else "rebuild it with a larger --max-batch")
        raise UserError(f"--batch {batch}: {path} takes at most {source.max_batch} image(s) a batch: {fix}")
    if source.info.get("precision", "fp32") not in NETWORK_MODE:
        raise UserError(f"{path} is {source.info['precision']}: nvinfer has no network-mode for it; "
                        "pass the fp32, fp16 or int8 model")


def infer_config(model_file: str, source: _Source, batch: int, engine: bool,
                 threshold: float) -> dict[str, dict[str, str]]:
    """The nvinfer config as groups of key -> value text (every key in nvinfer_keys)."""
    H, W = source.info["input_size"]
    return {
        "property": {
            "gpu-id": "0", "gie-unique-id": "1", "process-mode": "1",
            "network-type": "3", "output-instance-mask": "1", "cluster-mode": "4",  # the model does its own NMS
            "model-engine-file" if engine else "onnx-file": model_file,
            "labelfile-path": LABELS, "num-detected-classes": str(len(source.info["classes"])),
            "network-mode": str(NETWORK_MODE[source.info.get("precision", "fp32")]),
            "batch-size": str(batch), "infer-dims": f"3;{H};{W}", "output-blob-names": ";".join(OUTPUTS),
            # nvinfer's y = net-scale-factor * (x - offsets): the 0..255 RGB pixels themselves, the normalisation
            # is in the graph (export/float_input.py)
            "net-scale-factor": "1.0", "offsets": "0.0;0.0;0.0", "model-color-format": "0", "network-input-order": "0",
            # our letterbox: keep the aspect ratio, pad right and bottom (letterbox.py), bilinear
            "maintain-aspect-ratio": "1", "symmetric-padding": "0", "scaling-filter": "1",
            "custom-lib-path": PARSER_LIBRARY, "parse-bbox-instance-mask-func-name": PARSE_FUNCTION,
            "segmentation-threshold": "0.5",  # the mask threshold nvdsosd draws with: our paste's (postprocess.py)
            "interval": "0",
        },
        "class-attrs-all": {"pre-cluster-threshold": f"{threshold:g}", "topk": str(source.info.get("detections", -1))},
    }


def app_config(batch: int, size: tuple[int, int]) -> dict[str, dict[str, str]]:
    """deepstream-app's groups (NVIDIA/DeepStream src/apps/common/src/deepstream_config_file_parser.c keys)."""
    H, W = size
    columns = -(-batch // int(batch ** 0.5))
    groups = {"application": {"enable-perf-measurement": "1", "perf-measurement-interval-sec": "5"},
              "tiled-display": {"enable": "1", "rows": str(-(-batch // columns)), "columns": str(columns),
                                "width": str(W), "height": str(H)}}
    for i in range(batch):
        groups[f"source{i}"] = {"enable": "1", "type": "3", "uri": SAMPLE_URI, "num-sources": "1", "gpu-id": "0"}
    groups.update({
        # nvstreammux scales every frame to the model's size; enable-padding keeps its aspect ratio
        "streammux": {"gpu-id": "0", "live-source": "0", "batch-size": str(batch), "batched-push-timeout": "40000",
                      "width": str(W), "height": str(H), "enable-padding": "1"},
        "primary-gie": {"enable": "1", "gpu-id": "0", "batch-size": str(batch), "gie-unique-id": "1",
                        "interval": "0", "config-file": INFER_CONFIG},
        "tracker": tracker_group(size),
        "osd": {"enable": "1", "gpu-id": "0", "border-width": "2", "text-size": "12", "display-mask": "1"},
        "sink0": {"enable": "1", "type": "3", "container": "1", "codec": "1", "enc-type": "0", "sync": "0",
                  "bitrate": "4000000", "output-file": "out_mrcnn_edge.mp4", "source-id": "0"},
        "tests": {"file-loop": "0"},
    })
    return groups


def tracker_group(size: tuple[int, int]) -> dict[str, str]:
    """deepstream-app's [tracker] (nvinfer_keys.TRACKER): ids from DeepStream's own tracker, at the model's size
    (multiples of 32, as export requires and nvtracker's width and height must be)."""
    H, W = size
    return {"enable": "1", "tracker-width": str(W), "tracker-height": str(H), "gpu-id": "0",
            "ll-lib-file": TRACKER_LIBRARY, "ll-config-file": TRACKER_CONFIG, "display-tracking-id": "1",
            "tracking-id-reset-mode": "0"}  # 0: a stream that reconnects keeps its ids, as `run --track`


def key_file_text(groups: dict[str, dict[str, str]], comment: str) -> str:
    lines = [f"# {line}" for line in comment.splitlines()]
    for group, entries in groups.items():
        lines += ["", f"[{group}]"] + [f"{k}={v}" for k, v in entries.items()]
    return "\n".join(lines) + "\n"


def _readme(plugin: str | None) -> str:
    """Every model here holds our plugin nodes (_onnx_source; engines are built from such graphs)."""
    lines = ["DeepStream bundle written by `mrcnn-edge export-deepstream` (docs/deepstream.md; not run on a GPU here).",
             "", "1. Build the parser library from the mrcnn-edge checkout and copy it here:",
             "   cmake -S . -B build/ds -DDeepStream_ROOT=/opt/nvidia/deepstream/deepstream -DTensorRT_ROOT=/usr",
             f"   cmake --build build/ds --target mrcnn_edge_nvds_parser && cp build/ds/plugins/deepstream/{PARSER_LIBRARY} .",
             "2. Replace the uri of each [sourceN] in deepstream_app_config.txt with your streams.",
             "3. Run, with our TensorRT plugins (built with -DTensorRT_ROOT in the same checkout) preloaded:",
             f"   LD_PRELOAD={plugin or '/path/to/' + AUTOREG_LIBRARY} deepstream-app -c {APP_CONFIG}",
             "", "Why LD_PRELOAD:", *textwrap.wrap(PLUGIN_LOADING, 100)]
    return "\n".join(lines) + "\n"


def _write_model(model_path: str, directory: str, engine: bool) -> str:
    """The model nvinfer loads, in directory: the engine as is, or the .onnx's float-input flavour."""
    name = os.path.basename(model_path)
    if engine:
        shutil.copyfile(model_path, os.path.join(directory, name))
        return name
    out = name.removesuffix(".onnx") + ".nvinfer.onnx"
    write_float_input(model_path, os.path.join(directory, out))
    return out


def export_deepstream(model_path: str, directory: str = "deepstream", *, batch: int = 1,
                      score_threshold: float | None = None) -> DeepStreamResult:
    """Write the bundle for model_path (.trt.onnx, or an .engine built from a float-input graph) into directory; a
    plain model.onnx gets its model.trt.onnx from surgery first, beside it;
    batch: nvinfer's batch-size and the number of sources in deepstream_app_config.txt; score_threshold: every
    class's pre-cluster-threshold (default: the model's own, the sidecar's score_threshold)."""
    engine = _check_args(model_path, batch, score_threshold) == ".engine"
    plugin_graph = None if engine else _with_plugins(model_path)
    model_path = plugin_graph or model_path
    source = _engine_source(model_path) if engine else _onnx_source(model_path)
    _check_batch(model_path, source, batch)
    os.makedirs(directory, exist_ok=True)
    model_file = _write_model(model_path, directory, engine)
    threshold = source.info.get("score_threshold", 0.05) if score_threshold is None else score_threshold
    groups = infer_config(model_file, source, batch, engine, threshold)
    problems = config_problems(groups)
    assert not problems, problems  # a bug here, never the user's: nvinfer_keys holds what nvinfer accepts
    config = os.path.join(directory, INFER_CONFIG)
    with open(config, "w") as f:
        f.write(key_file_text(groups, f"nvinfer config for {model_file} (mrcnn-edge export-deepstream)"))
    with open(os.path.join(directory, LABELS), "w") as f:
        f.write("\n".join(source.info["classes"]) + "\n")
    app = os.path.join(directory, APP_CONFIG)
    problems = config_problems({"tracker": tracker_group(tuple(source.info["input_size"]))}, APP_GROUPS)
    assert not problems, problems
    with open(os.path.join(directory, TRACKER_CONFIG), "w") as f:
        f.write(TRACKER_YAML)
    with open(app, "w") as f:
        f.write(key_file_text(app_config(batch, tuple(source.info["input_size"])),
                              f"deepstream-app -c {APP_CONFIG} (mrcnn-edge export-deepstream)"))
    with open(os.path.join(directory, "README.txt"), "w") as f:
        f.write(_readme(source.plugin))
    return DeepStreamResult(directory, config, app, os.path.join(directory, model_file), batch, plugin_graph)
