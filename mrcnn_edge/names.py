"""Every artifact's file name, derived from its model's stem, and the precision and calibration sets: one
source for the stages and the CLI. Bottom layer: it imports nothing of the package (and nothing heavy),
so every stage and the CLI's --help can read it.

    model.onnx, model.json                the export and its sidecar (stem "model")
    model.trt.onnx                        surgery's plugin graph
    model.<p>.onnx, model.<p>.trt.onnx    a precision's graph (p in PRECISIONS)
    model.calib.<method>.json             INT8 ranges (`calibrate`)
    model.<p>.engine, model.<p>.engine.json   a TensorRT engine and its metadata
"""
from __future__ import annotations

import os

PRECISIONS = ("fp32", "fp16", "int8", "bf16")  # every precision an artifact's name can carry
CONVERSIONS = PRECISIONS[1:]  # what `quantize` makes of an fp32 graph
BUILD_PRECISIONS = PRECISIONS  # what `build` takes: TensorRT's, plus bf16 for the CPU runtimes
CALIBRATION_METHODS = ("entropy", "percentile", "minmax")
CALIBRATION_METHOD = "entropy"  # build's and calibrate's default: the best measured (calibration/README.md)
PLUGIN_GRAPH = ".trt.onnx"  # the suffix surgery gives the graph TensorRT gets
PLUGIN_LIBRARY = "libmrcnn_edge_plugins.so"  # our TensorRT plugins (plugins/, CMake)
# Its sibling, whose load-time constructor registers our plugin creators, which LD_PRELOAD needs (the
# plugin library itself only exports getCreators, which nothing calls on a plain dlopen): Triton, DeepStream.
AUTOREG_LIBRARY = "libmrcnn_edge_plugins_autoreg.so"


def model_stem(path: str) -> str:
    """`model` for model.onnx, model.trt.onnx, model.fp16.trt.onnx, model.int8.onnx, model.fp16.engine."""
    name = os.path.basename(path).removesuffix(".engine").removesuffix(".onnx").removesuffix(".trt")
    for precision in PRECISIONS:
        name = name.removesuffix(f".{precision}")
    return name


def is_plugin_graph(path: str) -> bool:
    return path.endswith(PLUGIN_GRAPH)


def plugin_graph_path(onnx_path: str) -> str:
    """model.onnx -> model.trt.onnx, beside it."""
    return onnx_path.removesuffix(".onnx") + PLUGIN_GRAPH


def precision_path(onnx_path: str, precision: str) -> str:
    """model.onnx -> model.<p>.onnx; model.trt.onnx -> model.<p>.trt.onnx."""
    stem = onnx_path.removesuffix(".onnx")
    if stem.endswith(".trt"):
        return f"{stem.removesuffix('.trt')}.{precision}{PLUGIN_GRAPH}"
    return f"{stem}.{precision}.onnx"


def plugin_graph_of(path: str, precision: str) -> str:
    """The plugin graph of `precision` beside any artifact of a model: model.trt.onnx (fp32) or
    model.<p>.trt.onnx."""
    graph = plugin_graph_path(os.path.join(os.path.dirname(path), f"{model_stem(path)}.onnx"))
    return graph if precision == "fp32" else precision_path(graph, precision)


def calibration_cache_path(onnx_path: str, method: str = CALIBRATION_METHOD) -> str:
    """model.onnx -> model.calib.<method>.json, beside it (model.trt.onnx's ranges are model.onnx's)."""
    return f"{onnx_path.removesuffix('.onnx')}.calib.{method}.json"


def engine_path(out_dir: str, graph: str, precision: str) -> str:
    """The engine TensorRT builds of graph (model[.<p>].trt.onnx): out_dir/model.<p>.engine."""
    return os.path.join(out_dir, f"{model_stem(graph)}.{precision}.engine")


def engine_metadata_path(engine: str) -> str:
    return engine + ".json"


def sidecar_path(model_path: str) -> str:
    """model.onnx -> model.json (model.trt.onnx -> model.trt.json)."""
    return os.path.splitext(model_path)[0] + ".json"
