"""Keypoint heatmaps -> keypoints, on the host: torchvision's and detectron2's `heatmaps_to_keypoints` in numpy.

torchvision upsamples each detection's S x S heatmaps bicubically to its box's size in whole pixels
(ceil(w) x ceil(h), a data-dependent shape), takes each map's argmax and puts the keypoint at the
pixel's centre (+0.5), scaled back by w / ceil(w). Here the bicubic upsampling is separable: two
matrix products per detection with the weights of torch's `upsample_bicubic2d` (A = -0.75,
align_corners False, source indices clamped at the border). Doing this on the host keeps the graph
free of data-dependent shapes; the price is the heatmaps' copy off the device (benchmarks/results).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

CUBIC_A = np.float32(-0.75)  # torch's (and OpenCV's) bicubic convolution constant
PIXEL_CENTRE = 0.5  # a discrete pixel d is the continuous point d + 0.5 (Heckbert 1990, as torchvision)


def _cubic(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel at distances t (as torch's cubic_convolution1/2)."""
    t = np.abs(t)
    a = CUBIC_A
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, np.float32(0))).astype(np.float32)


@lru_cache(maxsize=4096)  # box sizes recur frame after frame
def bicubic_weights(out_size: int, in_size: int) -> np.ndarray:
    """[out_size, in_size]: F.interpolate(mode="bicubic", align_corners=False) along one axis as a matrix."""
    scale = np.float32(in_size) / np.float32(out_size)
    src = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    base = np.floor(src)
    t = src - base
    weights = np.zeros((out_size, in_size), np.float32)
    rows = np.arange(out_size)
    for k in range(-1, 3):  # the four taps, their indices clamped to the map as torch's access does
        index = np.clip(base.astype(np.int64) + k, 0, in_size - 1)
        np.add.at(weights, (rows, index), _cubic(t - k))
    return weights


def _upsample(maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """maps [J,S,S] -> [J,height,width] bicubically: two matrix products over all J maps at once (one GEMM
    each, rather than J small ones)."""
    J, S, _ = maps.shape
    wy, wx = bicubic_weights(height, S), bicubic_weights(width, S)
    rows = (maps.transpose(0, 2, 1).reshape(J * S, S) @ wy.T).reshape(J, S, height)  # [J, x, y]
    return (rows.transpose(0, 2, 1).reshape(J * height, S) @ wx.T).reshape(J, height, width)


def _logit_at_peak(peaks: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """torchvision's keypoint score: the upsampled map's value (a logit) at the keypoint."""
    return peaks


def _softmax_at_peak(peaks: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """detectron2's keypoint score (its pred_keypoints[..., 2]): exp(peak - peak) over the sum of
    exp(heatmap - peak) on the S x S map, not the upsampled one, so that boxes of any size score alike.
    peaks [J], heatmap [J,S,S] -> scores [J]."""
    return np.float32(1) / np.exp(heatmap - peaks[:, None, None]).sum((1, 2), dtype=np.float32)


def _decode(heatmaps: np.ndarray, boxes: np.ndarray, score) -> tuple[np.ndarray, np.ndarray]:
    """heatmaps [N,J,S,S] logits of detections boxes [N,4] (x1,y1,x2,y2, the pixels the model saw) ->
    (keypoints [N,J,3] x, y, v = 1 in those pixels, scores [N,J] by score(peaks [J], heatmap [J,S,S]))."""
    N, J = heatmaps.shape[:2]
    keypoints = np.zeros((N, J, 3), np.float32)
    scores = np.zeros((N, J), np.float32)
    for i, (x1, y1, x2, y2) in enumerate(boxes.astype(np.float32)):
        w, h = max(x2 - x1, np.float32(1)), max(y2 - y1, np.float32(1))
        w_ceil, h_ceil = int(np.ceil(w)), int(np.ceil(h))
        heatmap = heatmaps[i].astype(np.float32)
        maps = _upsample(heatmap, h_ceil, w_ceil)  # [J, h_ceil, w_ceil]
        flat = maps.reshape(J, -1).argmax(1)
        y_int, x_int = np.divmod(flat, w_ceil)
        keypoints[i, :, 0] = (x_int + np.float32(PIXEL_CENTRE)) * (w / np.float32(w_ceil)) + x1
        keypoints[i, :, 1] = (y_int + np.float32(PIXEL_CENTRE)) * (h / np.float32(h_ceil)) + y1
        keypoints[i, :, 2] = 1
        scores[i] = score(maps[np.arange(J), y_int, x_int], heatmap)
    return keypoints, scores


def heatmaps_to_keypoints(heatmaps: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """torchvision's heatmaps_to_keypoints (see _decode); scores are the heatmap logits at the keypoints."""
    return _decode(heatmaps, boxes, _logit_at_peak)


def heatmaps_to_keypoints_detectron2(heatmaps: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """detectron2's heatmaps_to_keypoints (structures/keypoints.py): the same keypoints as torchvision's,
    scored by `_softmax_at_peak`. detectron2 puts that score in place of v; here v stays 1, the score
    goes to the scores, as for torchvision models."""
    return _decode(heatmaps, boxes, _softmax_at_peak)


# the sidecar's "keypoint_decode" (model/conventions.py) -> its decoder
DECODES = {"torchvision": heatmaps_to_keypoints, "detectron2": heatmaps_to_keypoints_detectron2}
