"""Keypoint R-CNN parity: torchvision's keypointrcnn_resnet50_fpn (seeded weights, detections at every score,
the top 25: helpers/random_init.py says why) exported at two sizes, through model.onnx on ONNX Runtime and
model.trt.onnx on our plugins, against torchvision eager, the oracle: every detection's 17 keypoints within
1 px in the frame, scores within 1e-3.

One frame is letterboxed (it is larger than the input and of another aspect), so the keypoints' way back
to the frame is checked as well as the decode.
"""
import os

import numpy as np
import pytest

from mrcnn_edge.data.synthetic import VAL, sample
from mrcnn_edge.model.eager import EagerPredictor
from mrcnn_edge.runtime import Predictor

from helpers.parity import assert_keypoint_parity
from helpers.random_init import DETECTIONS, RANDOM_INIT_SETTINGS

ARCH = "keypointrcnn_resnet50_fpn"
SIZES = [(320, 416), (384, 384)]


def _frames(size):
    image = sample(VAL, 0)[0]
    return {"cropped to the input": np.ascontiguousarray(image[: size[0], : size[1]]),
            "letterboxed": np.ascontiguousarray(np.concatenate([image, image[:, :128]], 1))}  # 512x640


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_keypoints_match_eager_through_onnx_and_plugins(exported_model, surgeried_model, size):
    from mrcnn_edge.model.checkpoint import load_model

    onnx_path = exported_model(ARCH, size)
    weights = os.path.join(os.path.dirname(onnx_path), f"{ARCH}.pth")  # the fixture's checkpoint
    model, _ = load_model(weights, **RANDOM_INIT_SETTINGS)
    eager = EagerPredictor(model, input_size=size)
    predictors = {"model.onnx": Predictor.from_onnx(onnx_path),
                  "model.trt.onnx": Predictor.from_path(surgeried_model(ARCH, size).path)}
    for name, frame in _frames(size).items():
        expected = eager(frame)
        # detections exist: the comparison is not vacuous
        assert expected.keypoints.shape == (DETECTIONS, 17, 3)
        for artifact, predictor in predictors.items():
            assert_keypoint_parity(expected, predictor(frame), f"{artifact} at {size}, {name} frame")
