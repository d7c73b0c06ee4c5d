"""What a build leaves behind.

Its own module so that `build` (which picks a builder) and `tensorrt_build` (one builder) both import
it without importing each other. The artifacts' names are in mrcnn_edge/names.py.
"""
from __future__ import annotations

from dataclasses import dataclass


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


