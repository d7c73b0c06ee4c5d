"""One entry point per precision: model[.trt].onnx -> model.<precision>[.trt].onnx.

TensorRT-ready graphs (`.trt.onnx`) get the TensorRT Q/DQ flavour (symmetric signed INT8); plain
graphs the ONNX Runtime flavour. Calibration runs on the plain graph: ONNX Runtime cannot execute
plugin nodes, and the cache is keyed by tensor names that surgery keeps.
"""
from __future__ import annotations

import os

from ..errors import UserError
from ..names import CONVERSIONS, is_plugin_graph, precision_path
from .placement import DEFAULT_KEEP_FLOAT


def convert(onnx_path: str, precision: str, *, cache: str | None = None, out: str | None = None,
            keep_float: tuple[str, ...] = DEFAULT_KEEP_FLOAT):
    """Write the `precision` variant of `onnx_path`; int8 needs a calibration cache (`mrcnn-edge calibrate`)."""
    if precision not in CONVERSIONS:
        raise UserError(f"precision '{precision}' has no conversion: choose fp16, int8 or bf16 (fp32 is model.onnx "
                        "itself)")
    if not os.path.isfile(onnx_path):
        raise UserError(f"model not found: {onnx_path} (run `mrcnn-edge export` first)")
    out = out or precision_path(onnx_path, precision)
    if precision == "fp16":
        from .fp16 import to_fp16

        return to_fp16(onnx_path, out)
    if precision == "bf16":
        from .bf16 import to_bf16

        return to_bf16(onnx_path, out)
    from .int8 import quantize_int8

    if cache is None:
        raise UserError("int8 needs a calibration cache: run `mrcnn-edge calibrate model.onnx` and pass --cache")
    target = "tensorrt" if is_plugin_graph(onnx_path) else "onnxruntime"
    return quantize_int8(onnx_path, out, cache, target=target, keep_float=keep_float)
