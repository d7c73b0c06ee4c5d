"""Runtime: frames in, Detections out (preprocess -> backend -> postprocess)."""
from .detections import Detections
from .predictor import Predictor

__all__ = ["Detections", "Predictor"]
