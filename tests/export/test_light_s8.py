"""maskrcnn_mobilenet_v3_large_fpn_lite_s8: the light model with a stride-8 FPN map. It starts from the shipped
light checkpoint (its trunk, RPN and box head; its FPN, of other inputs, fresh), is told apart from the light
architecture, and deploys: model.onnx on ONNX Runtime and model.trt.onnx on our plugins against torchvision eager,
the oracle, with the RoIAlign plugin pooling from strides 8, 16 and 32.

The fresh FPN is the shipped one's, moved one input up (its stride-8 input starts small), so that the seeded
model's maps have trained magnitudes: a random FPN's make ties of scores (test_mobilenet_fpn.py says why).
"""
import numpy as np
import onnx
import pytest
import torch
from torch import nn

from mrcnn_edge.check.checker import check
from mrcnn_edge.data.synthetic import VAL, sample
from mrcnn_edge.errors import UserError
from mrcnn_edge.model.architectures import LIGHT_ARCH, LIGHT_S8_ARCH, build_model
from mrcnn_edge.model.checkpoint import infer_arch, load_model, read_checkpoint, save_checkpoint
from mrcnn_edge.model.eager import EagerPredictor
from mrcnn_edge.model.zoo import SHIPPED_CHECKPOINT
from mrcnn_edge.runtime import Predictor
from mrcnn_edge.surgery.plugins import ROI_ALIGN
from mrcnn_edge.surgery.surgeon import SurgeryResult, surgeon
from mrcnn_edge.train.starts import start_from

from helpers.parity import assert_parity
from helpers.random_init import DETECTIONS, RANDOM_INIT_SETTINGS
from helpers.shared import made_once, result_made_once, run_folder

SIZE = (320, 320)


def _seeded(path: str) -> None:
    torch.manual_seed(0)
    shipped = read_checkpoint(SHIPPED_CHECKPOINT)
    model = build_model(LIGHT_S8_ARCH, num_classes=shipped.num_classes)
    start_from(model, SHIPPED_CHECKPOINT)
    fpn, theirs = model.backbone.fpn.state_dict(), shipped.state_dict
    with torch.no_grad():
        for key in fpn:
            kind, level, rest = key.split(".", 2)  # inner_blocks.1.0.weight <- the file's inner_blocks.0.0.weight
            if int(level) > 0:
                fpn[key].copy_(theirs[f"backbone.fpn.{kind}.{int(level) - 1}.{rest}"])
        nn.init.normal_(model.backbone.fpn.inner_blocks[0][0].weight, std=0.01)
    save_checkpoint(path, model, arch=LIGHT_S8_ARCH, classes=shipped.classes)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    from mrcnn_edge.export.onnx_export import export_onnx

    root = run_folder(tmp_path_factory, "light_s8")
    weights = made_once(root / "s8.pth", _seeded)
    exported = made_once(root / "s8.onnx", lambda path: export_onnx(weights, path, SIZE, progress=False,
                                                                      **RANDOM_INIT_SETTINGS))
    return weights, exported, root


def _frames():
    return [np.ascontiguousarray(sample(VAL, i)[0][: SIZE[0], : SIZE[1]]) for i in range(2)]


def _eager(weights: str) -> EagerPredictor:
    model, _ = load_model(weights, min_size=min(SIZE), max_size=max(SIZE), **RANDOM_INIT_SETTINGS)
    return EagerPredictor(model)


def test_starts_from_the_shipped_model_with_a_fresh_fpn(tmp_path):
    """The trunk, RPN and box head load; the FPN starts fresh and says why; any other misfit stays an error."""
    model = build_model(LIGHT_S8_ARCH, num_classes=4)
    report = start_from(model, SHIPPED_CHECKPOINT, backbone_only=True)
    assert report.notes == {"fpn": "the file's FPN has no stride-8 input"}
    assert "fresh: fpn (the file's FPN has no stride-8 input)" in report.line()
    shipped = read_checkpoint(SHIPPED_CHECKPOINT).state_dict
    state = model.state_dict()
    assert all(torch.equal(state[k], shipped[k]) for k in report.loaded)
    assert {k.split(".")[1] for k in report.loaded if k.startswith("backbone.")} == {"body"}
    assert any(k.startswith("rpn.") for k in report.loaded) and any(k.startswith("roi_heads.box_head") for k in report.loaded)
    path = str(tmp_path / "s8.pth")
    save_checkpoint(path, model, arch=LIGHT_S8_ARCH, classes=["a", "b", "c"])
    with pytest.raises(UserError, match="fpn tensors"):  # the other way round is not a designed start
        start_from(build_model(LIGHT_ARCH, num_classes=4), path, backbone_only=True)


def test_infer_arch_tells_it_from_the_light_arch():
    assert infer_arch(build_model(LIGHT_S8_ARCH, num_classes=3).state_dict()) == LIGHT_S8_ARCH
    assert infer_arch(build_model(LIGHT_ARCH, num_classes=3).state_dict()) == LIGHT_ARCH


def test_pools_small_objects_from_stride_8():
    model = build_model(LIGHT_S8_ARCH, num_classes=3, min_size=SIZE[0], max_size=SIZE[1]).eval()
    with torch.no_grad():
        model([torch.rand(3, *SIZE)])  # the poolers infer their scales on a first call
    assert model.roi_heads.mask_roi_pool.scales == [1 / 8, 1 / 16, 1 / 32]
    assert [len(s) for s in model.rpn.anchor_generator.sizes] == [1] * 5


def test_onnx_and_plugin_graph_match_eager(seeded):
    weights, exported, root = seeded
    result = result_made_once(root / "s8.trt.onnx", lambda path: surgeon(exported, path), SurgeryResult)
    roi_aligns = [n for n in onnx.load(result.path).graph.node if n.op_type == ROI_ALIGN]
    assert len(roi_aligns) == 2
    for node in roi_aligns:
        scales = next(onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == "spatial_scales")
        assert scales == [1 / 8, 1 / 16, 1 / 32]
    assert check(result.path).ok
    eager = _eager(weights)
    predictors = {"model.onnx": Predictor.from_onnx(exported), "model.trt.onnx": Predictor.from_path(result.path)}
    for i, frame in enumerate(_frames()):
        expected = eager(frame)
        assert len(np.unique(expected[1])) == DETECTIONS  # detections exist, their scores all differ
        for name, predictor in predictors.items():
            assert_parity(expected, predictor(frame), min_score=0.0, where=f"{name} image {i}")
