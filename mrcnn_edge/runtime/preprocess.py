"""Frame -> the model's fixed input. The letterbox itself lives in the bottom layer (mrcnn_edge/letterbox.py),
where calibration and evaluation use it too; it is re-exported here for the runtime's callers."""
from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..letterbox import Letterbox, check_frame, letterbox

__all__ = ["Letterbox", "check_frame", "check_images", "letterbox"]


def check_images(images, expected: list, what: str) -> None:
    """A backend's input: uint8 [B,3,H,W] matching `expected` (a str entry is a dynamic axis)."""
    if (not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4
            or any(isinstance(e, int) and e != g for e, g in zip(expected, images.shape))):
        given = f"{'x'.join(map(str, images.shape))} {images.dtype}" if isinstance(images, np.ndarray) \
            else type(images).__name__
        raise UserError(f"{what} takes uint8 images {'x'.join(map(str, expected))}, not {given}: "
                        "letterbox frames with mrcnn_edge.runtime.preprocess")
