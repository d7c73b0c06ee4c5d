"""The host decode of keypoint heatmaps against torchvision's own heatmaps_to_keypoints (the oracle), on
maps of every kind of box: sub-pixel, thin, large, fractional corners. A planted bug (bilinear in place of
bicubic, or no +0.5) is caught by the same comparison."""
import numpy as np
import pytest
import torch
from torchvision.models.detection.roi_heads import heatmaps_to_keypoints as torchvision_decode

from mrcnn_edge.runtime import keypoints as decode


def _maps_and_boxes(n=60, seed=0):
    rng = np.random.default_rng(seed)
    maps = rng.normal(size=(n, 17, 56, 56)).astype(np.float32)
    maps += 8 * np.exp(-((np.arange(56)[:, None] - rng.uniform(0, 56, (n, 17, 1, 1))) ** 2 +
                         (np.arange(56)[None, :] - rng.uniform(0, 56, (n, 17, 1, 1))) ** 2) / 20).astype(np.float32)
    xy = rng.uniform(-5, 500, (n, 2))
    wh = np.concatenate([rng.uniform(0.2, 3, (10, 2)), rng.uniform(3, 400, (n - 10, 2))])  # sub-pixel boxes too
    wh[-5:, 1] = rng.uniform(0.5, 2, 5)  # thin ones
    return maps, np.concatenate([xy, xy + wh], 1).astype(np.float32)


def _compare(ours):
    maps, boxes = _maps_and_boxes()
    points, scores = ours(maps, boxes)
    expected_points, expected_scores = torchvision_decode(torch.from_numpy(maps), torch.from_numpy(boxes))
    return (np.abs(points - expected_points.numpy()).max(), np.abs(scores - expected_scores.numpy()).max())


def test_decode_matches_torchvision():
    shift, score = _compare(decode.heatmaps_to_keypoints)
    assert shift < 1e-3 and score < 1e-4


def _bilinear(out_size, in_size):
    scale = in_size / out_size
    src = np.clip((np.arange(out_size) + 0.5) * scale - 0.5, 0, in_size - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, in_size - 1)
    w = np.zeros((out_size, in_size), np.float32)
    np.add.at(w, (np.arange(out_size), lo), 1 - (src - lo))
    np.add.at(w, (np.arange(out_size), hi), src - lo)
    return w


@pytest.mark.parametrize("bug", ["bilinear upsampling", "no half-pixel offset"])
def test_a_planted_bug_is_caught(monkeypatch, bug):
    if bug == "bilinear upsampling":
        monkeypatch.setattr(decode, "bicubic_weights", _bilinear)
    else:
        monkeypatch.setattr(decode, "PIXEL_CENTRE", 0.0)
    shift, score = _compare(decode.heatmaps_to_keypoints)
    assert shift > 0.25 or score > 1e-2, f"{bug} went unnoticed"
