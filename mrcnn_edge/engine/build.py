"""The engine stage, the last step of `mrcnn-edge build` where TensorRT is installed: model.<precision>.engine
and its .engine.json from the plugin graph of that precision. Engines only: where TensorRT is absent the chain
(mrcnn_edge/chain.py, CPU_ARTIFACTS) builds the CPU model instead, and `build` here says so in one line
(never a crash, never a fake engine)."""
from __future__ import annotations

import os

from ..errors import UserError
from ..sidecar import read_sidecar
from ..names import BUILD_PRECISIONS, is_plugin_graph, model_stem, plugin_graph_of
from .metadata import check_onnx_contract, import_tensorrt
from .result import BuildResult

__all__ = ["BuildResult", "build", "check_engine_precision", "tensorrt_graph"]


def check_engine_precision(precision: str) -> None:
    """TensorRT builds fp32, fp16 and int8 engines; bf16 is a CPU precision (OpenVINO)."""
    if precision == "bf16":
        raise UserError("bf16 is a CPU precision (OpenVINO): on TensorRT build fp16 or int8")


def tensorrt_graph(onnx_path: str, precision: str) -> str:
    """The graph TensorRT builds: the plugin graph of that precision (model.trt.onnx for fp32)."""
    if not is_plugin_graph(onnx_path):
        onnx_path = plugin_graph_of(onnx_path, precision)
        if not os.path.isfile(onnx_path):
            raise UserError(f"{onnx_path} not found: TensorRT builds the plugin graph of the precision asked for; "
                            f"`mrcnn-edge build --model {model_stem(onnx_path)}.onnx --precision {precision}` makes it "
                            "(or `mrcnn-edge surgery`, then `mrcnn-edge quantize`)")
    have = read_sidecar(onnx_path).get("precision", "fp32")
    if have != precision:
        raise UserError(f"{onnx_path} is a {have} graph: a {precision} engine needs the {precision} graph "
                        f"{os.path.basename(plugin_graph_of(onnx_path, precision))}")
    return onnx_path


def build(onnx_path: str, precision: str = "fp16", out_dir: str | None = None, *, plugins: str | None = None,
          workspace_mb: int = 4096, dla_core: int | None = None, timing_cache: str | None = None,
          opt_level: int = 3, max_batch: int = 8) -> BuildResult:
    """Build the TensorRT engine of `onnx_path` (model.onnx, or its plugin graph) at `precision` into out_dir
    (default: beside it): model.<precision>.engine + .engine.json, from model.<precision>.trt.onnx.

    Engines only: without TensorRT this is a one-line error. `mrcnn-edge build` (`build_chain`) runs the
    whole chain, and builds the CPU model of that precision where TensorRT is absent.
    """
    if precision not in BUILD_PRECISIONS:
        raise UserError(f"unknown precision '{precision}': choose {', '.join(BUILD_PRECISIONS)}")
    if not os.path.isfile(onnx_path):
        raise UserError(f"model not found: {onnx_path} (export one with `mrcnn-edge export`)")
    if import_tensorrt() is None:
        raise UserError(f"TensorRT not found: `build` makes TensorRT engines only; `mrcnn-edge build --model "
                        f"{model_stem(onnx_path)}.onnx --precision {precision}` builds the CPU model instead")
    check_engine_precision(precision)
    from .tensorrt_build import build_engine

    graph = tensorrt_graph(onnx_path, precision)
    check_onnx_contract(graph)
    out_dir = out_dir or os.path.dirname(os.path.abspath(onnx_path))
    os.makedirs(out_dir, exist_ok=True)
    return build_engine(graph, precision, out_dir, plugins=plugins, workspace_mb=workspace_mb, dla_core=dla_core,
                        timing_cache=timing_cache, opt_level=opt_level, max_batch=max_batch)
