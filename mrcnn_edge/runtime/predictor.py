"""Predictor: frame -> Detections, in three stages the streaming runtime times one by one."""
from __future__ import annotations

import numpy as np

from .detections import Detections
from .postprocess import to_detections
from .preprocess import Letterbox, letterbox


class Predictor:
    """`predictor(frame)` = postprocess(infer(preprocess(frame))). frame: HxWx3 uint8, RGB (bgr=True for
    OpenCV frames). Any backend with `.infer(images) -> dict` and a sidecar `.info` fits."""

    def __init__(self, backend):
        self.backend = backend
        info = backend.info
        self.input_size: tuple[int, int] = tuple(info["input_size"])
        self.class_names: list[str] = list(info["classes"])
        self.precision: str = info["precision"]
        self.backend_name: str = backend.name

    @classmethod
    def from_onnx(cls, path: str, threads: int | None = None) -> "Predictor":
        from .backends.onnxruntime_backend import OnnxRuntimeBackend

        return cls(OnnxRuntimeBackend(path, threads))

    def preprocess(self, frame: np.ndarray, bgr: bool = False) -> tuple[np.ndarray, Letterbox]:
        """frame [h,w,3] uint8 -> (images uint8 [1,3,H,W], the letterbox to map results back)."""
        return letterbox(frame, self.input_size, bgr)

    def infer(self, images: np.ndarray) -> dict[str, np.ndarray]:
        return self.backend.infer(images)

    def postprocess(self, raw: dict[str, np.ndarray], meta: Letterbox) -> Detections:
        return to_detections(raw, meta, self.class_names)

    def __call__(self, frame: np.ndarray, bgr: bool = False) -> Detections:
        images, meta = self.preprocess(frame, bgr)
        return self.postprocess(self.infer(images), meta)
