"""What a build leaves behind: a TensorRT engine (this stage) or the CPU model (the chain, mrcnn_edge/chain.py,
where TensorRT is absent).

Its own module so that `build` (the stage's entry point), `tensorrt_build` (the builder) and the chain all
import it without importing each other. The artifacts' names are in mrcnn_edge/names.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..names import engine_metadata_path


@dataclass(frozen=True)
class BuildResult:
    """The engine stage's artifact: a TensorRT engine, or the CPU model where TensorRT is absent."""

    path: str        # the .engine, or the ONNX Runtime model
    metadata: str    # its .engine.json, or the ONNX model's sidecar
    backend: str     # "tensorrt" | "cpu" (ONNX Runtime or OpenVINO)
    precision: str   # what was built
    requested: str   # what was asked for
    seconds: float
    note: str = ""   # why `precision` differs from `requested` (the CPU artifact table's note)
    runs_on: str = ""  # CPU artifacts: which runtime runs it

    @classmethod
    def of_engine(cls, path: str, precision: str, seconds: float) -> BuildResult:
        """A TensorRT engine at `path`, its .engine.json beside it: built now, or reused by the chain.
        (The CPU model's result: `CpuArtifact.result` in mrcnn_edge/chain.py.)"""
        return cls(path, engine_metadata_path(path), "tensorrt", precision, precision, seconds)

    def summary(self) -> str:
        if self.backend == "tensorrt":
            return f"built {self.path} (TensorRT, {self.precision}) in {self.seconds:.1f} s; metadata {self.metadata}"
        why = f" ({self.note})" if self.note else ""
        return (f"TensorRT not found: built the CPU {self.precision} model {self.path} instead{why} "
                f"in {self.seconds:.1f} s (runs on {self.runs_on})")


