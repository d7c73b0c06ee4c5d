"""What a predictor returns for one frame, in that frame's own coordinates."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass
class Detections:
    """Detections of one frame. N rows, sorted by descending score.

    boxes   float32 [N,4]  x1,y1,x2,y2 in frame pixels
    scores  float32 [N]
    classes int32   [N]    1-based category ids, as torchvision
    masks   bool    [N,H,W] pasted into the frame (threshold 0.5), H,W = the frame's size
    """
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    masks: np.ndarray
    class_names: list[str] = field(default_factory=list)  # index c-1 names class c

    def __len__(self) -> int:
        return len(self.scores)

    def mask_rects(self) -> list[tuple[int, int, int, int]]:
        """Each mask's bounding rectangle (x, y, w, h), w = h = 0 when empty: drawing and encoding touch
        only these pixels, not the whole frame."""
        return [cv2.boundingRect(mask.view(np.uint8)) for mask in self.masks]

    def names(self) -> list[str]:
        return [self.class_names[c - 1] if 0 < c <= len(self.class_names) else str(c) for c in self.classes]

    @classmethod
    def empty(cls, height: int, width: int, class_names=()) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32),
                   np.zeros((0, height, width), bool), list(class_names))
