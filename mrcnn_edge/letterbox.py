"""Frame -> the model's fixed input: letterbox (resize keeping the aspect ratio, pad bottom and right).

Bottom layer: calibration (precision), evaluation and the runtime all letterbox the same way, so each
sees exactly what live inference sees.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .errors import UserError


@dataclass(frozen=True)
class Letterbox:
    """How a frame was placed in the input: input pixel = frame pixel * scale (top-left aligned)."""
    scale: float
    frame_height: int
    frame_width: int


def check_frame(frame) -> None:
    """A frame is an HxWx3 uint8 numpy array; anything else is a UserError naming what was given."""
    if not isinstance(frame, np.ndarray):
        raise UserError(f"a frame must be a numpy array HxWx3 uint8, not {type(frame).__name__}")
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3 or 0 in frame.shape:
        raise UserError(f"a frame must be HxWx3 uint8, not {'x'.join(map(str, frame.shape))} {frame.dtype}")


def letterbox(frame: np.ndarray, size: tuple[int, int], bgr: bool = False) -> tuple[np.ndarray, Letterbox]:
    """frame [h,w,3] uint8 -> images [1,3,H,W] uint8 RGB and the Letterbox that maps results back.

    The frame is scaled by min(H/h, W/w) (bilinear, as torchvision's transform) and padded with zeros on
    the bottom and right, where torchvision's batching pads too; a frame of the input size is copied as is.
    """
    check_frame(frame)
    H, W = size
    h, w = frame.shape[:2]
    scale = min(H / h, W / w)
    if (h, w) != (H, W):
        new_w, new_h = min(W, round(w * scale)), min(H, round(h * scale))
        frame = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    images = np.zeros((1, 3, H, W), np.uint8)
    channels = frame.transpose(2, 0, 1)
    images[0, :, : frame.shape[0], : frame.shape[1]] = channels[::-1] if bgr else channels
    return images, Letterbox(scale, h, w)
