"""Runtime: frames in, Detections out (preprocess -> backend -> postprocess)."""
from __future__ import annotations

__all__ = ["Detections", "Predictor", "SCORE_THRESHOLD"]

# The streaming runtime's default (run, bench, multistream): detections below it are neither drawn nor
# written. The model keeps rows down to 0.05 for COCO evaluation, which would bury a video in boxes;
# `--score-threshold 0.05` writes them all.
SCORE_THRESHOLD = 0.5


def __getattr__(name: str):
    """Detections and Predictor on first use (PEP 562): they bring cv2, and the CLI's --help, which reads
    the runtime's defaults, should not pay for it."""
    if name == "Detections":
        from .detections import Detections

        return Detections
    if name == "Predictor":
        from .predictor import Predictor

        return Predictor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
