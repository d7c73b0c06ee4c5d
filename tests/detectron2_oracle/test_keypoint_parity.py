"""Keypoint R-CNN parity with detectron2 itself: its stored outputs (reference_keypoints.npz, made by
make_reference_keypoints.py from the seeded keypoint_rcnn_R_50_FPN weights of weights.py) against our
export of the same .pkl at two sizes (one photo each, frames.PHOTO_OF_SIZE), through model.onnx on ONNX
Runtime and model.trt.onnx on the plugins' CPU reference. As the torchvision keypoint parity
(export/test_keypoint_parity.py): each of detectron2's detections matched to ours by box IoU >= 0.99, its 17
keypoints within 1 px, their scores (detectron2's softmax scores, its pred_keypoints[..., 2]) within 1e-3.

Both sides keep the top 25 detections (tests/helpers/random_init.py says why). detectron2's first 25 are what it
gives at TEST.DETECTIONS_PER_IMAGE 25: its fast_rcnn_inference keeps batched_nms's indices, which come in
decreasing score order, and cuts them to the top k; its keypoint head then runs on each kept box alone."""
import os

import numpy as np
import pytest

from helpers.parity import assert_keypoint_parity
from helpers.random_init import DETECTIONS
from mrcnn_edge.model.eager import Prediction

from .frames import PHOTO_OF_SIZE, frames

REFERENCE = os.path.join(os.path.dirname(__file__), "reference_keypoints.npz")
ARTIFACTS = {"model.onnx": dict(backend="onnxruntime"), "model.trt.onnx": {}}  # -> Predictor.from_path's


@pytest.fixture(scope="module")
def keypoint_reference():
    """key '{H}x{W}/{photo}/{field}' -> detectron2's output (make_reference_keypoints.py)."""
    with np.load(REFERENCE) as f:
        return {k: f[k] for k in f.files}


def detectron2_prediction(reference, size, photo, top: int | None = None) -> Prediction:
    """detectron2's Instances (its `top` first) as a Prediction: pred_keypoints' third column is its score, v is 1."""
    key = f"{size[0]}x{size[1]}/{photo}"
    keypoints = reference[f"{key}/keypoints"][:top].copy()
    scores = keypoints[..., 2].copy()
    keypoints[..., 2] = 1
    return Prediction(reference[f"{key}/boxes"][:top], reference[f"{key}/scores"][:top],
                      reference[f"{key}/classes"][:top], keypoints=keypoints, keypoint_scores=scores)


@pytest.mark.parametrize("size", list(PHOTO_OF_SIZE), ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("artifact", list(ARTIFACTS))
def test_keypoints_match_detectron2(detectron2_export, keypoint_reference, size, artifact):
    from mrcnn_edge.runtime import Predictor

    path = detectron2_export(50, size, artifact == "model.trt.onnx", head="keypoint", detections=DETECTIONS)
    predictor = Predictor.from_path(path, **ARTIFACTS[artifact])
    assert predictor.keypoint_decode == "detectron2" and predictor.class_names == ["person"]  # from the sidecar
    assert predictor.keypoint_layout.num_keypoints == 17 and predictor.keypoint_layout.limbs
    photo = PHOTO_OF_SIZE[size]
    expected = detectron2_prediction(keypoint_reference, size, photo, top=DETECTIONS)
    assert len(expected.scores) == DETECTIONS  # the oracle covers real detections
    assert_keypoint_parity(expected, predictor(frames(size)[photo]), f"{artifact} at {size}, {photo}")


def test_reference_is_a_meaningful_oracle(keypoint_reference):
    """Detection scores untied and in decreasing order; keypoint scores spread well above 1e-3 (the tolerance) and
    above 1 / 56^2 (a flat heatmap's); keypoints inside their boxes; the commit recorded."""
    for size, photo in PHOTO_OF_SIZE.items():
        p = detectron2_prediction(keypoint_reference, size, photo)
        assert len(np.unique(p.scores)) == len(p.scores) and set(p.classes.tolist()) == {1}
        assert (np.diff(p.scores) < 0).all()  # in score order: the first 25 are detectron2's top 25
        assert np.median(p.keypoint_scores) > 0.02 and np.percentile(p.keypoint_scores, 95) > 0.2
        x, y, b = p.keypoints[..., 0], p.keypoints[..., 1], p.boxes[:, None]
        assert ((x >= b[..., 0]) & (x <= b[..., 2]) & (y >= b[..., 1]) & (y <= b[..., 3])).all()
    assert len(str(keypoint_reference["detectron2_commit"])) == 40
