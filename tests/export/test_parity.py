"""Export parity: model.onnx on ONNX Runtime against torchvision eager, the oracle.

Detections are matched greedily by class and box IoU (see conftest.assert_parity), not by rank: scores
that tie to float precision may be ordered differently by the two NMS implementations.
"""
import os

import numpy as np
import pytest

from mrcnn_edge.data.synthetic import VAL, sample
from mrcnn_edge.model.eager import EagerPredictor
from mrcnn_edge.runtime import Predictor

from helpers.parity import assert_parity
from helpers.random_init import RANDOM_INIT_SETTINGS

NUM_LIGHT_IMAGES = 20


def test_light_model_matches_eager(exported_model, shipped_checkpoint):
    """The shipped light model at its own input size on synthetic val images."""
    from mrcnn_edge.model.checkpoint import load_model

    predictor = Predictor.from_onnx(exported_model("shipped", (VAL.height, VAL.width)))
    eager = EagerPredictor(load_model(shipped_checkpoint)[0])
    assert predictor.input_size == (VAL.height, VAL.width)  # so eager does not resize either
    total = 0
    for i in range(NUM_LIGHT_IMAGES):
        frame = sample(VAL, i)[0]
        expected = eager(frame)
        assert_parity(expected, predictor(frame), where=f"val image {i}")
        total += len(expected[1])
    assert total > NUM_LIGHT_IMAGES  # the comparison covered real detections


@pytest.mark.parametrize("arch", ["maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn_v2"])
def test_resnet50_random_init_matches_eager(exported_model, arch):
    """Seeded random init (tests/conftest.py), eager input size = export size, so neither resizes."""
    from mrcnn_edge.model.checkpoint import load_model

    size = (320, 416)  # non-square
    path = exported_model(arch, size)
    predictor = Predictor.from_onnx(path)
    weights = os.path.join(os.path.dirname(path), f"{arch}.pth")  # the fixture's checkpoint
    model, _ = load_model(weights, min_size=min(size), max_size=max(size), **RANDOM_INIT_SETTINGS)
    eager = EagerPredictor(model)
    for i in range(2):
        frame = np.ascontiguousarray(sample(VAL, i)[0][: size[0], : size[1]])
        expected = eager(frame)
        assert len(expected[1]) >= 10
        assert_parity(expected, predictor(frame), min_score=0.0 if i else 0.05,
                      where=f"{arch} image {i}")
