"""Inference backends behind one interface, `Backend`: `.infer(images uint8 [B,3,H,W]) -> dict of output
arrays`. ONNX Runtime, OpenVINO, the plugin graph's (ONNX Runtime with our plugins' CPU code), TensorRT and
a Triton server."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: the CLI reads BACKENDS from here, and --help should stay light
    import numpy as np

# --backend: which runtime runs an .onnx model. auto: OpenVINO where it is installed (the faster CPU path,
# benchmarks/results/cpu_backends.md), else ONNX Runtime. "openvino:GPU" names an OpenVINO device (default CPU).
BACKENDS = ("auto", "onnxruntime", "openvino")


class Backend(Protocol):
    """What Predictor and the stream runtime use of a backend, and all they may use (mypy checks each
    backend against it where Predictor is made)."""

    name: str  # how reports name it: "onnxruntime", "openvino", "tensorrt", "triton grpc HOST:PORT/NAME", ...
    info: dict[str, Any]  # the model's sidecar (an engine's metadata, a Triton config's parameters)

    def infer(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """images uint8 [B,3,H,W] -> the contract's outputs by name (contract.py), B rows each."""
        ...


def note(message: str) -> None:
    """One line on stderr about how a model runs here (the run's summary and report follow on stdout)."""
    print(f"note: {message}", file=sys.stderr)
