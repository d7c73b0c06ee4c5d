"""model.onnx on OpenVINO (f32 pinned) against the same graph on ONNX Runtime, for every architecture.

The exports are the session's shared ones (tests/conftest.py), at the sizes test_parity.py uses.
Detections are matched by class and box IoU, not by rank (conftest.assert_parity).
"""
import numpy as np
import pytest

from helpers import require_module
from mrcnn_edge.data.synthetic import VAL, sample
from mrcnn_edge.runtime import Predictor

from helpers.parity import assert_parity

openvino = require_module("openvino")

CASES = [("shipped", (VAL.height, VAL.width)), ("maskrcnn_resnet50_fpn", (320, 416)),
         ("maskrcnn_resnet50_fpn_v2", (320, 416))]


def _as_tuple(detections):
    return detections.boxes, detections.scores, detections.classes, detections.masks


@pytest.mark.parametrize("arch,size", CASES, ids=[c[0] for c in CASES])
def test_openvino_equals_onnxruntime(exported_model, arch, size):
    path = exported_model(arch, size)
    ort = Predictor.from_path(path, backend="onnxruntime")
    ov = Predictor.from_path(path, backend="openvino")
    assert (ort.backend_name, ov.backend_name) == ("onnxruntime", "openvino")
    # f32, not the bf16 OpenVINO would pick on an AVX512-BF16 CPU by itself
    assert ov.backend.compiled.get_property("INFERENCE_PRECISION_HINT") == openvino.Type.f32
    total = 0
    for i in range(2):
        frame = np.ascontiguousarray(sample(VAL, i)[0][: size[0], : size[1]])
        expected = ort(frame)
        assert_parity(_as_tuple(expected), ov(frame), min_score=0.0, where=f"{arch} image {i}")
        total += len(expected)
    assert total >= 4  # real detections were compared
