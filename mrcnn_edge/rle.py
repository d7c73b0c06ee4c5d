"""COCO compressed RLE, the mask format of COCO's JSON: written by the runtime's sinks and results, the eval
and the synthetic sets alike."""
from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils


def encode_rle(mask: np.ndarray, rect: tuple[int, int, int, int] | None = None) -> dict:
    """COCO compressed RLE of a binary [H,W] mask, JSON-ready.

    rect (x, y, w, h), a rectangle that holds every set pixel, lets it read only the columns it spans
    (COCO RLE runs down columns): the columns either side are one run of zeros each.
    """
    H, W = mask.shape
    x0, x1 = (rect[0], rect[0] + rect[2]) if rect is not None else (0, W)
    column_major = mask[:, x0:x1].T.ravel()
    edges = np.flatnonzero(column_major[1:] != column_major[:-1]) + 1
    runs = np.diff(np.concatenate([[0], edges, [column_major.size]])).tolist()
    if column_major.size and column_major[0]:
        runs.insert(0, 0)  # counts start with a run of zeros
    runs = runs or [0]
    runs[0] += x0 * H
    if len(runs) % 2:  # ends on zeros
        runs[-1] += (W - x1) * H
    elif x1 < W:
        runs.append((W - x1) * H)
    rle = mask_utils.frPyObjects({"counts": runs, "size": [H, W]}, H, W)
    rle["counts"] = rle["counts"].decode("ascii")
    return rle
