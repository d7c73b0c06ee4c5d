"""Our copy of detectron2's mask paste (runtime/postprocess.py) against detectron2's own pastes, stored in
reference.npz for one frame: its 28x28 probabilities (the first 25 detections) and boxes in, its pasted
masks out. This weights' mask probabilities lie close to 0.5 (std ~0.05), so a rule that differs in the
sampling grid or the threshold's side shows at once."""
import numpy as np

from helpers.parity import mask_iou
from mrcnn_edge.runtime.postprocess import paste_masks, paste_masks_detectron2

from .conftest import reference_detections


def test_paste_matches_detectron2(reference):
    probs = reference["r50/320x448/coffee/masks28"]
    boxes, _, _, expected = reference_detections(reference, 50, (320, 448), "coffee")
    boxes, expected = boxes[: len(probs)], expected[: len(probs)]
    ours = paste_masks_detectron2(probs, boxes, 320, 448)
    differ = np.logical_xor(ours, expected).sum((1, 2))
    assert differ.max() <= 2, differ  # float rounding of the bilinear weights only (measured: 0)
    # torchvision's paste (one-pixel padding, box grown by 30/28, > 0.5) is measurably another rule
    theirs = paste_masks(probs, boxes, 320, 448)
    assert np.mean([mask_iou(a, b) for a, b in zip(theirs, expected)]) < 0.97
