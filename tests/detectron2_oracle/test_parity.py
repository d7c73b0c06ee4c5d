"""Parity with detectron2 itself: its stored outputs (reference.npz, made by make_reference.py from the
seeded weights of weights.py) against our export of the same .pkl, through model.onnx on ONNX Runtime and
through model.trt.onnx on the plugins' CPU reference and on the CUDA kernels themselves (executed on the CPU by
plugins/cpu_exec). Matched by class and box IoU, as test_parity.py. R-50 on both photos at each size; R-101,
whose frame costs most, on one photo per size (frames.PHOTO_OF_SIZE: both photos in all)."""
import numpy as np
import pytest

from helpers.parity import assert_parity

from .conftest import reference_detections
from .frames import PHOTO_OF_SIZE, SIZES, frames

CASES = [pytest.param(50, size, id=f"R50-{size[0]}x{size[1]}") for size in SIZES] + \
        [pytest.param(101, size, id=f"R101-{size[0]}x{size[1]}", marks=pytest.mark.slow) for size in SIZES]


@pytest.mark.parametrize("depth,size", CASES)
@pytest.mark.parametrize("plugins", [None, "reference", "kernels"], ids=["onnxruntime", "plugins", "kernels"])
def test_matches_detectron2(detectron2_export, reference, depth, size, plugins):
    from mrcnn_edge.runtime import Predictor

    # model.onnx on ONNX Runtime, as the id says (from_path's "auto" would take OpenVINO where it is installed)
    predictor = Predictor.from_path(detectron2_export(depth, size, plugins is not None),
                                    backend="auto" if plugins else "onnxruntime", plugin_impl=plugins)
    assert predictor.paste == "detectron2"  # from the sidecar
    photos = frames(size) if depth == 50 else {PHOTO_OF_SIZE[size]: frames(size)[PHOTO_OF_SIZE[size]]}
    for photo, frame in photos.items():
        expected = reference_detections(reference, depth, size, photo)
        assert len(expected[1]) >= 50  # the oracle covers real detections
        assert_parity(expected, predictor(frame), where=f"R-{depth} {size} {photo}")


def test_reference_is_a_meaningful_oracle(reference):
    """Scores untied (one exact float32 tie between two different boxes is a coincidence that parity, matching
    by class and box, not by rank, does not mind), masks neither empty nor full, and classes: what random
    weights could spoil. R-50's frames hold 3 of the 4 classes; R-101's top 100 are all class 3 (its deeper trunk's features favour
    one classifier row; centring and equalising the classifier on the photo did not change that), so
    the class check of R-101 parity tests the background reordering and one class only."""
    classes_seen = {50: set(), 101: set()}
    for depth in (50, 101):
        for size in SIZES:
            for photo in frames(size):
                boxes, scores, classes, masks = reference_detections(reference, depth, size, photo)
                assert len(np.unique(scores)) >= len(scores) - 1
                classes_seen[depth] |= set(classes.tolist())
                area = masks.sum((1, 2))
                box_area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
                assert np.median(area / box_area) > 0.1 and np.median(area / box_area) < 0.95
    assert len(classes_seen[50]) >= 3
    assert len(str(reference["detectron2_commit"])) == 40
