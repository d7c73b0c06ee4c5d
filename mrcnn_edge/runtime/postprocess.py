"""Raw model outputs -> Detections in the frame: boxes mapped back, masks pasted as torchvision does."""
from __future__ import annotations

import cv2
import numpy as np

from .detections import Detections
from .keypoints import DECODES
from .preprocess import Letterbox

MASK_THRESHOLD = 0.5


def expand_boxes(boxes: np.ndarray, scale: float) -> np.ndarray:
    """torchvision's expand_boxes: grow boxes [N,4] about their centres by scale."""
    half_w = (boxes[:, 2] - boxes[:, 0]) * 0.5 * scale
    half_h = (boxes[:, 3] - boxes[:, 1]) * 0.5 * scale
    cx, cy = (boxes[:, 2] + boxes[:, 0]) * 0.5, (boxes[:, 3] + boxes[:, 1]) * 0.5
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], 1)


def paste_masks(masks: np.ndarray, boxes: np.ndarray, height: int, width: int,
                threshold: float = MASK_THRESHOLD) -> np.ndarray:
    """torchvision's paste_masks_in_image, thresholded: masks [N,M,M] probabilities in boxes [N,4]
    (frame pixels) -> bool [N,height,width].

    As torchvision: pad each mask by one pixel, grow its box by (M+2)/M to match, truncate the box to
    integers, resize the mask bilinearly to the box and keep the part inside the frame. Only the box
    is resized (one cv2.resize per box), never the whole frame.
    """
    N, M, _ = masks.shape
    out = np.zeros((N, height, width), bool)
    padded = np.pad(masks.astype(np.float32), ((0, 0), (1, 1), (1, 1)))
    int_boxes = expand_boxes(boxes, (M + 2) / M).astype(np.int64)  # truncation, as .to(torch.int64)
    for n, (x0, y0, x1, y1) in enumerate(int_boxes):
        w, h = max(int(x1 - x0 + 1), 1), max(int(y1 - y0 + 1), 1)
        left, right = max(x0, 0), min(x1 + 1, width)
        top, bottom = max(y0, 0), min(y1 + 1, height)
        if left >= right or top >= bottom:
            continue
        mask = cv2.resize(padded[n], (w, h), interpolation=cv2.INTER_LINEAR)
        out[n, top:bottom, left:right] = mask[top - y0: bottom - y0, left - x0: right - x0] > threshold
    return out


def _sampling_weights(start: int, stop: int, lo: float, hi: float, M: int) -> np.ndarray:
    """[stop-start, M]: grid_sample's bilinear weights (align_corners=False, zero padding) of pixel
    centres start+0.5 .. stop-0.5 on a mask of M cells spanning [lo, hi]."""
    centres = np.arange(start, stop, dtype=np.float32) + np.float32(0.5)
    g = (centres - np.float32(lo)) / np.float32(hi - lo) * np.float32(2) - np.float32(1)  # detectron2's grid
    u = ((g + np.float32(1)) * np.float32(M) - np.float32(1)) / np.float32(2)  # grid_sample's unnormalise
    cell = np.arange(M, dtype=np.float32)
    return np.maximum(np.float32(0), np.float32(1) - np.abs(u[:, None] - cell[None, :]))


def paste_masks_detectron2(masks: np.ndarray, boxes: np.ndarray, height: int, width: int,
                           threshold: float = MASK_THRESHOLD) -> np.ndarray:
    """detectron2's paste_masks_in_image on the CPU (layers/mask_ops.py): masks [N,M,M] in boxes [N,4]
    -> bool [N,height,width], probabilities >= threshold.

    detectron2 samples each mask with grid_sample at every pixel centre of the box's
    [floor(x0) - 1, ceil(x1) + 1) window (one box per chunk on the CPU), with no padding row. Bilinear
    sampling is separable, so each mask is two small matrix products instead of a per-pixel gather.
    """
    N, M, _ = masks.shape
    out = np.zeros((N, height, width), bool)
    for n, (x0, y0, x1, y1) in enumerate(boxes.astype(np.float32)):
        left, top = max(int(np.floor(x0)) - 1, 0), max(int(np.floor(y0)) - 1, 0)
        right, bottom = min(int(np.ceil(x1)) + 1, width), min(int(np.ceil(y1)) + 1, height)
        if left >= right or top >= bottom or x1 <= x0 or y1 <= y0:
            continue
        wy, wx = _sampling_weights(top, bottom, y0, y1, M), _sampling_weights(left, right, x0, x1, M)
        probs = wy @ masks[n].astype(np.float32) @ wx.T
        out[n, top:bottom, left:right] = probs >= threshold
    return out


PASTES = {"torchvision": paste_masks, "detectron2": paste_masks_detectron2}


def to_detections(raw: dict[str, np.ndarray], letterbox: Letterbox, class_names=(), image: int = 0,
                  min_score: float = 0.0, paste: str = "torchvision", limbs=(),
                  keypoint_decode: str = "torchvision") -> Detections:
    """One image's rows of the model outputs (num_detections, boxes, scores, classes, then masks and/or
    keypoint_heatmaps) -> Detections.

    Rows scoring below min_score are dropped before their masks are pasted (scores are sorted). paste
    names the model's mask paste (the sidecar's "paste"; PASTES), keypoint_decode its heatmap decode (the
    sidecar's "keypoint_decode"; keypoints.DECODES). Keypoints are decoded in the model's pixels, as
    torchvision and detectron2 decode them before they rescale to the frame.
    """
    n = int(raw["num_detections"][image])
    n = int(np.searchsorted(-raw["scores"][image, :n], -min_score, side="right")) if min_score > 0 else n
    H, W = letterbox.frame_height, letterbox.frame_width
    boxes = raw["boxes"][image, :n] / letterbox.scale
    boxes = np.clip(boxes, 0, [W, H, W, H]).astype(np.float32)  # as torchvision's clip to the image
    masks = PASTES[paste](raw["masks"][image, :n], boxes, H, W) if "masks" in raw else None
    keypoints = scores = None
    if "keypoint_heatmaps" in raw:
        decode = DECODES[keypoint_decode]
        keypoints, scores = decode(raw["keypoint_heatmaps"][image, :n], raw["boxes"][image, :n])
        keypoints[..., :2] /= letterbox.scale
    return Detections(boxes, raw["scores"][image, :n].astype(np.float32), raw["classes"][image, :n].astype(np.int32),
                      masks, list(class_names), keypoints, scores, list(limbs))
