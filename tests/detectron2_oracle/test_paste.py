"""Our copy of detectron2's mask paste (runtime/postprocess.py) against detectron2's own pastes, stored in
reference.npz for one frame: its 28x28 probabilities (x255, uint8) and boxes in, its pasted masks out."""
import numpy as np

from export.conftest import mask_iou
from mrcnn_edge.runtime.postprocess import paste_masks, paste_masks_detectron2

from .conftest import reference_detections


def test_paste_matches_detectron2(reference):
    boxes, _, _, expected = reference_detections(reference, 50, (320, 448), "coffee")
    probs = reference["r50/320x448/coffee/masks28"].astype(np.float32) / 255
    ours = paste_masks_detectron2(probs, boxes, 320, 448)
    # the stored probabilities are quantised to 1/255: only pixels that close to 0.5 may differ
    ious = [mask_iou(a, b) for a, b in zip(ours, expected)]
    assert min(ious) >= 0.97 and np.mean(ious) >= 0.995, (min(ious), np.mean(ious))
    # torchvision's paste (one-pixel padding, box grown by 30/28, > 0.5) is measurably another rule
    theirs = paste_masks(probs, boxes, 320, 448)
    assert np.mean([mask_iou(a, b) for a, b in zip(theirs, expected)]) < np.mean(ious) - 0.01
