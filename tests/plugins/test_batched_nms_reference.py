"""BatchedNMS_TRT's CPU reference against torchvision.ops.batched_nms: identical kept index lists
after the score threshold (scores > thresh, as roi_heads) and top-K truncation.

torchvision's batched_nms has two paths. Up to 1000 boxes on the CPU (and always when tracing,
i.e. in exported graphs) it offsets boxes per category and runs one nms; above that it loops
over categories and re-sorts the kept boxes with torch's unstable sort, so exactly-equal scores
may come out in another order. The plugin follows the first path (one stable sort: descending
score, then ascending index), so larger inputs are compared with that path directly.

The category offset also changes float rounding of IoU, so multi-category data uses integer
coordinates, on which both are exact; arbitrary float boxes are tested with one category.
"""
import numpy as np
import pytest
import torch
from torchvision.ops import batched_nms
from torchvision.ops.boxes import _batched_nms_coordinate_trick

from mrcnn_edge import _plugin_ref


def _tied_boxes(rng, batch, count, categories, integer_coords):
    xy = rng.uniform(0, 40, (batch, count, 2))
    wh = rng.uniform(1, 30, (batch, count, 2))
    if integer_coords:
        xy, wh = np.floor(xy), np.floor(wh)
    boxes = np.concatenate([xy, xy + wh], axis=2).astype(np.float32)
    scores = rng.choice(np.linspace(0.0, 1.0, 11), (batch, count)).astype(np.float32)  # many exact ties
    cats = rng.integers(0, categories, (batch, count)).astype(np.int32)
    return boxes, scores, cats


def _torchvision_keep(boxes, scores, cats, iou, score_thresh, max_output, nms):
    candidates = np.nonzero(scores > score_thresh)[0]
    keep = nms(
        torch.from_numpy(boxes[candidates]),
        torch.from_numpy(scores[candidates]),
        torch.from_numpy(cats[candidates]).long(),
        iou,
    )
    return candidates[keep.numpy()][:max_output]


def _check(boxes, scores, cats, iou, score_thresh, max_output, nms=batched_nms):
    """The reference and the CUDA kernels on the CPU execution layer (plugins/cpu_exec), both against nms."""
    for impl in (_plugin_ref.batched_nms, _plugin_ref.batched_nms_kernels):
        _check_impl(impl, boxes, scores, cats, iou, score_thresh, max_output, nms)


def _check_impl(impl, boxes, scores, cats, iou, score_thresh, max_output, nms):
    num, indices, out_boxes, out_scores, classes = impl(boxes, scores, cats, iou, score_thresh, max_output)
    for b in range(boxes.shape[0]):
        expected = _torchvision_keep(boxes[b], scores[b], cats[b], iou, score_thresh, max_output, nms)
        n = num[b]
        np.testing.assert_array_equal(indices[b, :n], expected)
        np.testing.assert_array_equal(out_boxes[b, :n], boxes[b, expected])
        np.testing.assert_array_equal(out_scores[b, :n], scores[b, expected])
        np.testing.assert_array_equal(classes[b, :n], cats[b, expected])
        assert (indices[b, n:] == -1).all() and (classes[b, n:] == 0).all()
        assert (out_boxes[b, n:] == 0).all() and (out_scores[b, n:] == 0).all()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("iou", [0.5, 0.7])
def test_matches_batched_nms_with_ties_and_categories(seed, iou):
    rng = np.random.default_rng(seed)
    boxes, scores, cats = _tied_boxes(rng, 2, 300, 4, integer_coords=True)
    _check(boxes, scores, cats, iou, 0.05, 100)


@pytest.mark.parametrize("seed", range(4))
def test_matches_batched_nms_float_boxes_one_category(seed):
    rng = np.random.default_rng(100 + seed)
    boxes, scores, cats = _tied_boxes(rng, 2, 400, 1, integer_coords=False)
    _check(boxes, scores, cats, 0.5, 0.0, 1000)


@pytest.mark.parametrize("seed", range(3))
def test_matches_coordinate_trick_above_vanilla_threshold(seed):
    """2500 boxes: batched_nms would take its per-category loop; the plugin keeps one order."""
    rng = np.random.default_rng(200 + seed)
    boxes, scores, cats = _tied_boxes(rng, 1, 2500, 5, integer_coords=True)
    _check(boxes, scores, cats, 0.7, 0.1, 300, nms=_batched_nms_coordinate_trick)


def test_truncates_to_max_output_and_drops_scores_at_threshold():
    rng = np.random.default_rng(9)
    boxes, scores, cats = _tied_boxes(rng, 3, 200, 3, integer_coords=True)
    _check(boxes, scores, cats, 0.5, 0.5, 7)  # 0.5 is one of the tied score values: dropped


def test_torchvision_nms_orders_equal_scores_by_index():
    """The tie rule the plugin relies on. torch's own CPU sort(descending=True) is not stable
    above 16 elements, so this would break if torchvision's nms stopped sorting stably."""
    boxes = torch.arange(200.0)[:, None] * 10 + torch.tensor([0.0, 0.0, 5.0, 5.0])  # disjoint
    scores = torch.tensor([1.0, 0.0] * 100)
    keep = torch.ops.torchvision.nms(boxes, scores, 0.5)
    assert torch.equal(keep, torch.cat([torch.arange(0, 200, 2), torch.arange(1, 200, 2)]))


def test_rejects_bad_attributes():
    boxes, scores, cats = _tied_boxes(np.random.default_rng(0), 1, 4, 1, integer_coords=True)
    with pytest.raises(ValueError, match="max_output"):
        _plugin_ref.batched_nms(boxes, scores, cats, 0.5, 0.05, 0)
