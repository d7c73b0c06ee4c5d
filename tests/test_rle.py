"""encode_rle against pycocotools' own encoder, with and without the bounding-rectangle shortcut."""
import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mrcnn_edge.rle import encode_rle


def _masks():
    rng = np.random.default_rng(0)
    yield np.zeros((7, 9), bool)
    yield np.ones((7, 9), bool)
    for _ in range(200):
        H, W = rng.integers(1, 40, 2)
        mask = np.zeros((H, W), bool)
        for _ in range(rng.integers(0, 3)):
            y, x = rng.integers(0, H), rng.integers(0, W)
            mask[y:y + rng.integers(1, H + 1), x:x + rng.integers(1, W + 1)] = True
        yield mask ^ (rng.random((H, W)) < 0.05 * rng.integers(0, 2))  # speckle on half of them


@pytest.mark.parametrize("use_rect", [False, True])
def test_rle_equals_pycocotools(use_rect):
    for mask in _masks():
        expected = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        expected["counts"] = expected["counts"].decode("ascii")
        rect = cv2.boundingRect(mask.view(np.uint8)) if use_rect else None
        assert encode_rle(mask, rect) == expected, (mask.shape, rect)
