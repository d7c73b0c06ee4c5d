"""What a predictor returns for one frame, in that frame's own coordinates."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .draw import annotate


@dataclass
class Detections:
    """Detections of one frame. N rows, sorted by descending score.

    boxes   float32 [N,4]  x1,y1,x2,y2 in frame pixels
    scores  float32 [N]
    classes int32   [N]    1-based category ids, as torchvision
    masks   bool    [N,H,W] pasted into the frame (threshold 0.5), H,W = the frame's size; None for a
                           model without a mask head
    keypoints float32 [N,J,3] x, y in frame pixels, v = 1 (torchvision's); None without a keypoint head
    keypoint_scores float32 [N,J] each keypoint's score: its heatmap logit (torchvision), detectron2's
                           softmax score for detectron2 models (runtime/keypoints.DECODES)
    track_ids int64 [N]     each detection's identity across frames (runtime/tracking.Tracker); None when the
                           run does not track, -1 for a detection no track took
    """
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    masks: np.ndarray | None
    class_names: list[str] = field(default_factory=list)  # index c-1 names class c
    keypoints: np.ndarray | None = None
    keypoint_scores: np.ndarray | None = None
    limbs: list[tuple[int, int]] = field(default_factory=list)  # joined keypoints (0-based), for drawing
    track_ids: np.ndarray | None = None

    def subset(self, rows: np.ndarray, track_ids: np.ndarray | None = None) -> "Detections":
        """These detections' rows `rows` (indices, in order), with `track_ids` for them where given."""
        def pick(a):
            return None if a is None else a[rows]

        return Detections(self.boxes[rows], self.scores[rows], self.classes[rows], pick(self.masks),
                          list(self.class_names), pick(self.keypoints), pick(self.keypoint_scores), list(self.limbs),
                          pick(self.track_ids) if track_ids is None else np.asarray(track_ids, np.int64))

    def __len__(self) -> int:
        return len(self.scores)

    def mask_rects(self) -> list[tuple[int, int, int, int]]:
        """Each mask's bounding rectangle (x, y, w, h), w = h = 0 when empty: drawing and encoding touch
        only these pixels, not the whole frame."""
        if self.masks is None:
            return [(0, 0, 0, 0)] * len(self)
        return [cv2.boundingRect(mask.view(np.uint8)) for mask in self.masks]

    def names(self) -> list[str]:
        """Each detection's class name (its number where the model's names do not cover it)."""
        return [self.class_names[c - 1] if 0 < c <= len(self.class_names) else str(c) for c in self.classes]

    def draw(self, frame: np.ndarray, fps: float | None = None) -> np.ndarray:
        """A copy of the RGB frame these detections are of, with masks, boxes and labels drawn."""
        return annotate(frame, self, fps)

    def to_coco(self, image_id: int) -> list[dict]:
        """COCO results rows (what COCO's `loadRes` reads): bbox x,y,w,h in frame pixels, the mask as
        compressed RLE, category_id = the class id (COCO's own ids for a 91-class COCO-layout model)
        and, beside it, the class name. Boxes are rounded to 1/100 px, scores to 5 decimals."""
        from ..rle import encode_rle

        names, rects = self.names(), self.mask_rects()
        rows = []
        for i in range(len(self)):
            x1, y1, x2, y2 = (round(float(v), 2) for v in self.boxes[i])
            row = {"image_id": image_id, "category_id": int(self.classes[i]), "category_name": names[i],
                   "score": round(float(self.scores[i]), 5), "bbox": [x1, y1, round(x2 - x1, 2), round(y2 - y1, 2)]}
            if self.masks is not None:
                row["segmentation"] = encode_rle(self.masks[i], rects[i])
            rows.append({**row, **self.keypoint_fields(i)})
        return rows

    def keypoint_fields(self, i: int) -> dict:
        """Row i's keypoints as COCO's results format writes them ("keypoints": x, y, v per keypoint, flat;
        pixels to 1/100) and their scores; empty for a model without keypoints."""
        if self.keypoints is None:
            return {}
        flat = [round(float(v), 2) for v in self.keypoints[i].reshape(-1)]
        return {"keypoints": flat, "keypoint_scores": [round(float(v), 4) for v in self.keypoint_scores[i]]}

    @classmethod
    def empty(cls, height: int, width: int, class_names=()) -> "Detections":
        """No detections on a frame of this size: what a skipped or failed frame reports."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32),
                   np.zeros((0, height, width), bool), list(class_names))
