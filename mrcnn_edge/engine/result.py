"""What a build leaves behind, and the naming both builders share.

Its own module so that `build` (which picks a builder) and `tensorrt_build` (one builder) both import
it without importing each other.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..precision.convert import PRECISIONS  # every precision suffix, bf16 (CPU only) included


@dataclass(frozen=True)
class BuildResult:
    path: str        # the .engine, or the ONNX Runtime model
    metadata: str    # its .engine.json, or the ONNX model's sidecar
    backend: str     # "tensorrt" | "cpu" (ONNX Runtime or OpenVINO)
    precision: str   # what was built
    requested: str   # what was asked for
    seconds: float
    note: str = ""   # why `precision` differs from `requested` (the CPU artifact table's note)
    runs_on: str = ""  # CPU artifacts: which runtime runs it

    def summary(self) -> str:
        if self.backend == "tensorrt":
            return f"built {self.path} (TensorRT, {self.precision}) in {self.seconds:.1f} s; metadata {self.metadata}"
        why = f" ({self.note})" if self.note else ""
        return (f"TensorRT not found: built the CPU {self.precision} model {self.path} instead{why} "
                f"in {self.seconds:.1f} s (runs on {self.runs_on})")


def model_stem(onnx_path: str) -> str:
    """`model` for model.onnx, model.trt.onnx, model.fp16.trt.onnx, model.int8.onnx, model.fp16.engine."""
    name = os.path.basename(onnx_path).removesuffix(".engine").removesuffix(".onnx").removesuffix(".trt")
    for precision in PRECISIONS:
        name = name.removesuffix(f".{precision}")
    return name
