"""The seeded weights this machine makes are the ones detectron2's references were computed from: CI's CPU
and thread count differ from the machine that ran make_reference*.py, and other weights would fail parity
for no fault of the export (as float32 FrozenBN statistics once did, by a third of a percent)."""
import pytest

from .weights import DIGESTS, digest

CASES = [pytest.param(50, "mask", id="R50-mask"), pytest.param(50, "keypoint", id="R50-keypoint"),
         pytest.param(101, "mask", id="R101-mask", marks=pytest.mark.slow)]


@pytest.mark.parametrize("depth,head", CASES)
def test_weights_are_the_references(detectron2_state, depth, head):
    assert digest(detectron2_state(depth, head)) == DIGESTS[depth, head]
