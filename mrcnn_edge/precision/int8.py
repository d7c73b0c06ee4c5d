"""INT8: explicit Quantize/DequantizeLinear pairs from a calibration cache (onnxruntime.quantization).

Why ONNX Runtime's quantizer rather than hand-written Q/DQ insertion: it already knows per-channel
weight scales, bias quantisation and which ops it may quantise; its `calibration_cache_path` makes
ranges reusable; and it touches only the op types it is told to, so our plugin nodes (and the
region function calls of model.onnx) pass through untouched. (NVIDIA ModelOpt's ONNX PTQ would do
as well but pulls in a large dependency tree.)

Two targets share one cache: TensorRT wants symmetric signed INT8 activations (zero point 0);
ONNX Runtime's x86 kernels are fastest with unsigned activations (U8S8). OpenVINO runs the same
U8S8 graph: on the light model it was both faster and more accurate there than the symmetric S8S8
one (benchmarks/results/cpu_backends.md), so model.int8.onnx serves both CPU backends.

TensorRT's explicit quantization (NvInfer.h, IQuantizeLayer / IDequantizeLayer, 10.3 and 11.1):
DequantizeLinear takes only INT8, FP8 or INT4 input, so Conv/Gemm biases stay float (`QuantizeBias`
off: ONNX Runtime would make each an INT32 initializer behind a DequantizeLinear, which the parser
rejects; TensorRT fuses a float bias into the INT8 conv itself). Zero points are 0 (symmetric),
scales float, and per-channel scales only on weights (activations are per-tensor). `mrcnn-edge check`
holds every graph to these rules.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass

import onnx
from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

from ..errors import UserError
from ..files import REEXPORT, read_onnx
from ..sidecar import derive_sidecar
from .calibrate import METHODS, read_cache
from .placement import DEFAULT_KEEP_FLOAT, QUANTIZED_OP_TYPES, nodes_to_exclude

TARGETS = {
    "tensorrt": dict(activation_type=QuantType.QInt8, extra_options={"ActivationSymmetric": True,
                                                                     "QuantizeBias": False}),
    "onnxruntime": dict(activation_type=QuantType.QUInt8, extra_options={}),
}


@contextlib.contextmanager
def _without_preprocessing_advice():
    """quantize_static logs 'Please consider pre-processing before quantization' on the root logger at every
    call; our graphs come from our own export (shapes inferred, constants folded), so drop that line."""
    def advice(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Please consider")

    root = logging.getLogger()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)


@dataclass
class QuantizeResult:
    """The Q/DQ graph: for which target, the calibration method, the nodes kept float and those quantized."""

    path: str
    target: str
    method: str
    kept_float: list[str]
    quantized_nodes: int
    seconds: float


def quantize_int8(onnx_in: str, onnx_out: str, cache: str, *, target: str = "onnxruntime",
                  keep_float: tuple[str, ...] = DEFAULT_KEEP_FLOAT) -> QuantizeResult:
    """Insert Q/DQ into `onnx_in` with ranges from `cache`; writes `onnx_out` and its sidecar."""
    start = time.perf_counter()
    if target not in TARGETS:
        raise UserError(f"unknown int8 target '{target}': choose {', '.join(TARGETS)}")
    ranges = read_cache(cache)
    method = next(k for k, v in METHODS.items() if v == ranges.calibration_method)
    model = read_onnx(onnx_in, fix=REEXPORT)
    excluded = nodes_to_exclude(model, list(keep_float))
    settings = TARGETS[target]
    with _without_preprocessing_advice():
        quantize_static(
            onnx_in, onnx_out, calibration_data_reader=None, quant_format=QuantFormat.QDQ,
            op_types_to_quantize=QUANTIZED_OP_TYPES, per_channel=True, weight_type=QuantType.QInt8,
            activation_type=settings["activation_type"], nodes_to_exclude=excluded,
            calibrate_method=ranges.calibration_method, calibration_cache_path=cache,
            extra_options={"WeightSymmetric": True, **settings["extra_options"]},
        )
    quantized = sum(n.op_type == "DequantizeLinear" for n in onnx.load(onnx_out).graph.node)
    derive_sidecar(onnx_in, onnx_out, precision="int8", int8={"target": target, "method": method,
                                                              "cache": os.path.abspath(cache), "kept_float": excluded})
    return QuantizeResult(onnx_out, target, method, excluded, quantized, time.perf_counter() - start)
