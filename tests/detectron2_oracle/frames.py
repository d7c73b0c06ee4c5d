"""The reference frames: crops of scikit-image's sample photos (crops, not resizes, so every machine
gets the same pixels), at a square and a non-square input size."""
from __future__ import annotations

import numpy as np

SIZES = ((320, 320), (320, 448))
# One photo per size, the square and the non-square (both photos in all), where a frame costs the most: the
# keypoint oracle (8 convs of 512 on each detection) and R-101 (twice R-50's res4 blocks)
PHOTO_OF_SIZE = {(320, 320): "astronaut", (320, 448): "coffee"}
_PHOTOS = {  # name -> (row, col) of each size's crop
    "astronaut": ((96, 96), (0, 32)),
    "coffee": ((40, 140), (40, 76)),
}


def frames(size: tuple[int, int]) -> dict[str, np.ndarray]:
    """name -> RGB uint8 [H,W,3] at size (H, W)."""
    from skimage import data

    H, W = size
    out = {}
    for name, corners in _PHOTOS.items():
        top, left = corners[SIZES.index(tuple(size))]
        out[name] = np.ascontiguousarray(getattr(data, name)()[top: top + H, left: left + W])
    return out
