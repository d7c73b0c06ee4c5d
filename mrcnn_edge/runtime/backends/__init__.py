"""Inference backends behind one interface: `.infer(images uint8 [B,3,H,W]) -> dict of output arrays`."""
from __future__ import annotations

import sys

# `--backend` for local files: auto picks OpenVINO where installed, else ONNX Runtime (predictor.py)
BACKENDS = ("auto", "onnxruntime", "openvino")


def note(message: str) -> None:
    """One line on stderr about how a model runs here (the run's summary and report follow on stdout)."""
    print(f"note: {message}", file=sys.stderr)
