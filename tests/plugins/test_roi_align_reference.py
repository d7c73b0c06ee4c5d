"""MultilevelRoIAlign_TRT's CPU reference against torchvision.ops.roi_align / MultiScaleRoIAlign
and against the RoiAlign node tests shipped with onnx."""
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torchvision.ops import MultiScaleRoIAlign, roi_align
from torchvision.ops.poolers import LevelMapper

from mrcnn_edge import _plugin_ref

IMAGE_HW = (128, 160)
ATOL = 1e-5


def _feature_maps(rng, batch, channels, scales):
    h, w = IMAGE_HW
    return [rng.standard_normal((batch, channels, int(h * s), int(w * s))).astype(np.float32) for s in scales]


def _adversarial_boxes(rng, count, inverted):
    """x1,y1,x2,y2 in image pixels: random, tiny, huge, off-image, zero-size, negative, inverted
    and exactly on level boundaries (sqrt(area) = 112, 224, 448)."""
    h, w = IMAGE_HW
    xy = rng.uniform(-40, max(h, w) + 40, (count, 2))
    wh = np.exp(rng.uniform(np.log(0.3), np.log(600), (count, 2)))
    random = np.concatenate([xy, xy + wh], axis=1)
    special = np.array(
        [
            [10, 10, 10.4, 10.2],  # tiny
            [-500, -400, 1500, 1300],  # huge
            [300, 300, 420, 380],  # off-image
            [-50, -60, -10, -5],  # negative, off-image
            [20, 20, 20, 60],  # zero width
            [30, 30, 30, 30],  # point
            [0, 0, 224, 224],  # level boundaries
            [5, 7, 117, 119],
            [0, 0, 448, 448],
            [60, 40, 20, 90],  # inverted x
            [60, 90, 20, 40],  # inverted x and y
        ],
        dtype=np.float64,
    )
    if not inverted:
        special = special[:-2]
    return np.concatenate([random, special]).astype(np.float32)


def _rois(rng, batch, per_image, inverted=True):
    """inverted=False: torchvision's roi_align fails on inverted boxes with aligned=True and an
    adaptive grid (negative grid size); ours returns zeros there."""
    return np.stack([_adversarial_boxes(rng, per_image - 11, inverted) for _ in range(batch)])


def _roi_format(rois):
    """[B,R,4] -> [B*R,5] with the batch index first, as torchvision.ops.roi_align takes."""
    batch, count, _ = rois.shape
    ids = np.repeat(np.arange(batch, dtype=np.float32), count)[:, None]
    return np.concatenate([ids, rois.reshape(-1, 4)], axis=1)


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [0, 2])
@pytest.mark.parametrize("output_size", [(7, 7), (14, 14), (3, 5)])
def test_single_level_matches_torchvision(aligned, sampling_ratio, output_size):
    rng = np.random.default_rng(sampling_ratio + 10 * aligned)
    (features,) = _feature_maps(rng, 2, 3, [0.25])
    rois = _roi_format(_rois(rng, 2, 40, inverted=not (aligned and sampling_ratio == 0)))
    ours = _plugin_ref.roi_align(features, rois, 0.25, output_size, sampling_ratio, aligned)
    theirs = roi_align(torch.from_numpy(features), torch.from_numpy(rois), output_size, 0.25, sampling_ratio, aligned)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=0, atol=ATOL)


# The plugin's two CPU implementations: the reference, and the CUDA kernel itself on plugins/cpu_exec.
IMPLS = {"reference": _plugin_ref.multilevel_roi_align, "kernel": _plugin_ref.multilevel_roi_align_kernels}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("sampling_ratio", [0, 2])
@pytest.mark.parametrize("scales", [[1 / 4, 1 / 8, 1 / 16, 1 / 32], [1 / 8, 1 / 16, 1 / 32], [1 / 16, 1 / 32, 1 / 32]],
                         ids=["P2-P5", "P3-P5", "light-16-32-32"])
def test_multilevel_matches_multiscale_roi_align(sampling_ratio, scales, impl):
    """Scales and LevelMapper inferred by torchvision from image_shapes, as Mask R-CNN runs it."""
    rng = np.random.default_rng(7 + sampling_ratio)
    batch = 2
    maps = _feature_maps(rng, batch, 4, scales)
    rois = _rois(rng, batch, 60)
    names = [str(i) for i in range(len(maps))]
    pooler = MultiScaleRoIAlign(featmap_names=names, output_size=7, sampling_ratio=sampling_ratio)
    x = OrderedDict((n, torch.from_numpy(m)) for n, m in zip(names, maps))
    theirs = pooler(x, [torch.from_numpy(r) for r in rois], [IMAGE_HW] * batch)
    ours = IMPLS[impl](rois, maps, scales, (7, 7), sampling_ratio, False)
    np.testing.assert_allclose(ours.reshape(theirs.shape), theirs.numpy(), rtol=0, atol=ATOL)


@pytest.mark.parametrize("impl", IMPLS)
def test_multilevel_aligned_matches_level_mapper_plus_roi_align(impl):
    """aligned=True is not reachable through MultiScaleRoIAlign: compose LevelMapper and roi_align."""
    rng = np.random.default_rng(3)
    scales = [1 / 4, 1 / 8, 1 / 16, 1 / 32]
    maps = _feature_maps(rng, 1, 2, scales)
    rois = _rois(rng, 1, 50)
    levels = LevelMapper(2, 5)([torch.from_numpy(rois[0])])
    theirs = torch.zeros(rois.shape[1], 2, 7, 7)
    for level, (fmap, scale) in enumerate(zip(maps, scales)):
        idx = torch.where(levels == level)[0]
        boxes = torch.from_numpy(_roi_format(rois[:, idx.numpy()]))
        theirs[idx] = roi_align(torch.from_numpy(fmap), boxes, (7, 7), scale, 2, True)
    ours = IMPLS[impl](rois, maps, scales, (7, 7), 2, True)
    np.testing.assert_allclose(ours[0], theirs.numpy(), rtol=0, atol=ATOL)


def _onnx_roialign_case(name):
    """Inputs and expected output of one of onnx's RoiAlign node test cases."""
    from onnx.backend.test.case.node import roialign

    captured = {}

    def capture(node, inputs, outputs, name):
        captured.update(node=node, inputs=inputs, outputs=outputs)

    original = roialign.expect
    roialign.expect = capture
    try:
        getattr(roialign.RoiAlign, name)()
    finally:
        roialign.expect = original
    return captured


@pytest.mark.parametrize(
    "case, aligned", [("export_roialign_aligned_false", False), ("export_roialign_aligned_true", True)]
)
def test_matches_onnx_roialign_node_tests(case, aligned):
    """ONNX RoiAlign (mode avg): output_half_pixel == aligned False, half_pixel == aligned True."""
    import onnx.helper

    c = _onnx_roialign_case(case)
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in c["node"].attribute}
    expected_mode = b"half_pixel" if aligned else b"output_half_pixel"
    assert attrs["coordinate_transformation_mode"] == expected_mode
    x, rois, batch_indices = c["inputs"]
    rois5 = np.concatenate([batch_indices[:, None].astype(np.float32), rois], axis=1)
    ours = _plugin_ref.roi_align(
        x,
        rois5,
        attrs["spatial_scale"],
        (attrs["output_height"], attrs["output_width"]),
        attrs["sampling_ratio"],
        aligned,
    )
    # The expected outputs are printed with 4 decimals.
    np.testing.assert_allclose(ours, c["outputs"][0], rtol=0, atol=1e-4)


def test_rejects_skipped_levels():
    rng = np.random.default_rng(0)
    maps = _feature_maps(rng, 1, 1, [0.25, 0.0625])
    with pytest.raises(ValueError, match="skip a level"):
        _plugin_ref.multilevel_roi_align(np.zeros((1, 1, 4), np.float32), maps, [0.25, 0.0625], (7, 7), 2, False)
