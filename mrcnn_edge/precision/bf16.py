"""BF16: a CPU precision that lives in the runtime, not in the graph.

OpenVINO computes a graph in bf16 when told to (INFERENCE_PRECISION_HINT bf16) on CPUs with
AVX512-BF16 or AMX, and picks where it keeps f32 itself. So the bf16 artifact is the fp32 graph
unchanged, hard-linked (or copied where links are not possible), with a sidecar that says bf16; the
OpenVINO backend reads that and sets the hint. ONNX Runtime runs it as fp32 and says so.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from ..errors import UserError
from ..files import link_or_copy
from ..sidecar import derive_sidecar, read_sidecar


@dataclass
class Bf16Result:
    """The bf16 artifact (the fp32 graph, its sidecar saying bf16)."""

    path: str
    linked: bool  # a hard link to the fp32 graph (else a copy)
    seconds: float


def to_bf16(onnx_in: str, onnx_out: str) -> Bf16Result:
    """model.onnx (fp32) -> model.bf16.onnx: the same graph, a sidecar saying precision bf16."""
    start = time.perf_counter()
    precision = read_sidecar(onnx_in)["precision"]
    if precision != "fp32" or onnx_in.endswith(".trt.onnx"):
        raise UserError(f"bf16 is made from the fp32 model.onnx (OpenVINO's bf16 on the CPU); {onnx_in} is "
                        f"{'a TensorRT plugin graph' if onnx_in.endswith('.trt.onnx') else precision}")
    if os.path.abspath(onnx_in) == os.path.abspath(onnx_out):
        raise UserError(f"the bf16 artifact needs its own name, not {onnx_in} (e.g. model.bf16.onnx)")
    linked = link_or_copy(onnx_in, onnx_out)
    derive_sidecar(onnx_in, onnx_out, precision="bf16")
    return Bf16Result(onnx_out, linked, time.perf_counter() - start)
