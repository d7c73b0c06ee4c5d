"""maskrcnn_mobilenet_v3_large_fpn: torchvision's COCO fasterrcnn_mobilenet_v3_large_fpn tensor for tensor plus a mask
head, told apart from the lite architecture, rebuilt with the norm it was trained with, and deployed: model.onnx on
ONNX Runtime and model.trt.onnx on our plugins against torchvision eager, the oracle.

The seeded model is not helpers/random_init's: a random MobileNetV3 trunk's activations vanish (std 1e-8 at the
last block with identity norms: every RoI alike, every score tied), and its FPN maps reach std ~50 (RPN deltas of
~15 clamp every proposal to a sliver, whose IoU a 1e-3 px difference breaks). So the norms' statistics are
measured on synthetic frames and the box regressors redrawn small, as detectron2 initialises them.
"""
import numpy as np
import onnx
import pytest
import torch
from torch import nn
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn
from torchvision.ops import FrozenBatchNorm2d

from mrcnn_edge.check.checker import check
from mrcnn_edge.data.synthetic import TRAIN, VAL, sample
from mrcnn_edge.errors import UserError
from mrcnn_edge.model.architectures import LIGHT_ARCH, MOBILENET_FPN_ARCH, build_model
from mrcnn_edge.model.checkpoint import infer_arch, load_model, read_checkpoint, save_checkpoint
from mrcnn_edge.model.eager import EagerPredictor
from mrcnn_edge.runtime import Predictor
from mrcnn_edge.runtime.preprocess import letterbox
from mrcnn_edge.surgery.cpu_runner import PluginGraphRunner
from mrcnn_edge.surgery.plugins import NMS, ROI_ALIGN
from mrcnn_edge.surgery.surgeon import SurgeryResult, surgeon
from mrcnn_edge.threads import ort_session_options

from helpers.parity import assert_parity
from helpers.random_init import DETECTIONS, RANDOM_INIT_SETTINGS
from helpers.shared import made_once, result_made_once, run_folder

SIZE = (320, 320)
CLASSES = ["c1", "c2", "c3", "c4"]
MASK_HEAD = ("roi_heads.mask_head.", "roi_heads.mask_predictor.")


def _tv_faster(num_classes: int, **kwargs):
    return fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=num_classes, **kwargs)


def _counters_out(state: dict) -> dict:
    return {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}


def _seeded(path: str, norm: str) -> None:
    """A seeded model whose detections differ from each other (the module docstring says why it is needed)."""
    torch.manual_seed(0)
    model = build_model(MOBILENET_FPN_ARCH, num_classes=len(CLASSES) + 1, norm="batch")
    frames = torch.stack([torch.from_numpy(sample(TRAIN, i)[0][:320, :320]).permute(2, 0, 1) for i in range(4)])
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # the plain mean over the calibration batch
    model.backbone.train()
    with torch.no_grad():
        model.backbone(model.transform.normalize(frames.float() / 255))
    model.eval()
    heads = model.roi_heads
    small = {heads.box_predictor.cls_score.weight: 0.01, heads.mask_predictor.mask_fcn_logits.weight: 0.01,
             heads.box_predictor.bbox_pred.weight: 0.001, model.rpn.head.bbox_pred.weight: 0.001}
    for weight, std in small.items():
        nn.init.normal_(weight, std=std)
    if norm == "frozen":  # the same tensors in the default build: FrozenBatchNorm, no counters
        frozen = build_model(MOBILENET_FPN_ARCH, num_classes=len(CLASSES) + 1)
        frozen.load_state_dict(_counters_out(model.state_dict()))
        model = frozen
    save_checkpoint(path, model, arch=MOBILENET_FPN_ARCH, classes=CLASSES,
                    build_settings={"norm": "batch"} if norm == "batch" else None)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """seeded(norm) -> (checkpoint, model.onnx), made once per run and shared by its workers."""
    from mrcnn_edge.export.onnx_export import export_onnx

    root = run_folder(tmp_path_factory, "mobilenet_fpn")

    def get(norm: str):
        weights = made_once(root / f"{norm}.pth", lambda path: _seeded(path, norm))
        exported = made_once(root / f"{norm}.onnx", lambda path: export_onnx(
            weights, path, SIZE, progress=False, **RANDOM_INIT_SETTINGS))
        return weights, exported

    return get


def _eager(weights: str) -> EagerPredictor:
    model, _ = load_model(weights, min_size=min(SIZE), max_size=max(SIZE), **RANDOM_INIT_SETTINGS)
    return EagerPredictor(model)


def _frames():
    return [np.ascontiguousarray(sample(VAL, i)[0][: SIZE[0], : SIZE[1]]) for i in range(2)]


def test_backbone_fpn_rpn_and_box_head_are_torchvisions():
    """Keys and shapes equal torchvision's Faster R-CNN's; only the mask head is ours."""
    theirs = {k: tuple(v.shape) for k, v in _counters_out(_tv_faster(91).state_dict()).items()}
    for norm in ("frozen", "batch"):
        ours = {k: tuple(v.shape) for k, v in _counters_out(
            build_model(MOBILENET_FPN_ARCH, num_classes=91, norm=norm).state_dict()).items()}
        assert {k: s for k, s in ours.items() if not k.startswith(MASK_HEAD)} == theirs
        assert any(k.startswith(MASK_HEAD) for k in ours)


def _frozen_copy(module: nn.Module) -> nn.Module:
    """torchvision's untrained build has BatchNorm2d; the COCO one, as ours, FrozenBatchNorm2d (same eps)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, FrozenBatchNorm2d(child.num_features, eps=child.eps))
        else:
            _frozen_copy(child)
    return module


def test_detects_as_torchvisions_faster_rcnn(seeded):
    """The same weights in torchvision's fasterrcnn_mobilenet_v3_large_fpn (its anchors, its poolers' default
    names, its RPN score threshold) give the very boxes, scores and labels of ours."""
    weights, _ = seeded("frozen")
    ours, _ = load_model(weights, min_size=320, max_size=320, **RANDOM_INIT_SETTINGS)
    theirs = _frozen_copy(_tv_faster(len(CLASSES) + 1, min_size=320, max_size=320, rpn_pre_nms_top_n_test=500,
                                     rpn_post_nms_top_n_test=RANDOM_INIT_SETTINGS["rpn_post_nms_top_n_test"],
                                     box_score_thresh=0.0, box_detections_per_img=DETECTIONS)).eval()
    state = read_checkpoint(weights).state_dict
    theirs.load_state_dict({k: v for k, v in state.items() if not k.startswith(MASK_HEAD)})
    image = torch.from_numpy(_frames()[0]).permute(2, 0, 1).float() / 255
    with torch.inference_mode():
        want, got = theirs([image])[0], ours([image])[0]
        images, _ = ours.transform([image])
        features = list(ours.backbone(images.tensors).values())
        anchors = [m.rpn.anchor_generator(images, features)[0] for m in (ours, theirs)]
    assert torch.equal(*anchors)  # every level's, though few detections come from the coarsest
    assert len(want["scores"]) == DETECTIONS
    for key in ("boxes", "scores", "labels"):
        assert torch.equal(got[key], want[key]), key


def test_infer_arch_tells_it_from_the_lite_arch(tmp_path):
    """Raw state dicts (no metadata): ours, the lite one (same trunk, a third FPN input) and torchvision's file."""
    assert infer_arch(build_model(MOBILENET_FPN_ARCH, num_classes=3).state_dict()) == MOBILENET_FPN_ARCH
    assert infer_arch(build_model(LIGHT_ARCH, num_classes=3).state_dict()) == LIGHT_ARCH
    assert infer_arch(_tv_faster(91).state_dict()) == MOBILENET_FPN_ARCH
    path = tmp_path / "raw.pth"
    torch.save(build_model(MOBILENET_FPN_ARCH, num_classes=3).state_dict(), path)
    assert read_checkpoint(str(path)).arch == MOBILENET_FPN_ARCH
    torch.save(build_model(LIGHT_ARCH, num_classes=3).state_dict(), path)
    assert read_checkpoint(str(path)).arch == LIGHT_ARCH


def test_a_batchnorm_model_rebuilds_with_batchnorm(tmp_path):
    """The checkpoint records the norm; without it the counters of BatchNorm do not fit FrozenBatchNorm."""
    torch.manual_seed(0)
    model = build_model(MOBILENET_FPN_ARCH, num_classes=3, norm="batch")
    path = str(tmp_path / "batch.pth")
    save_checkpoint(path, model, arch=MOBILENET_FPN_ARCH, classes=["a", "b"], build_settings={"norm": "batch"})
    assert read_checkpoint(path).build_settings == {"norm": "batch"}
    loaded, _ = load_model(path)
    norm = loaded.backbone.body["0"][1]
    assert type(norm) is nn.BatchNorm2d and norm.eps == 1e-3
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.state_dict().items())
    save_checkpoint(path, model, arch=MOBILENET_FPN_ARCH, classes=["a", "b"])  # the norm not recorded
    with pytest.raises(UserError, match="unexpected keys"):
        load_model(path)
    with pytest.raises(UserError, match="unknown norm 'group'"):
        build_model(MOBILENET_FPN_ARCH, num_classes=3, norm="group")


@pytest.mark.parametrize("norm", ["frozen", "batch"])
def test_onnx_matches_eager(seeded, norm):
    weights, exported = seeded(norm)
    eager, predictor = _eager(weights), Predictor.from_onnx(exported)
    for i, frame in enumerate(_frames()):
        expected = eager(frame)
        assert len(np.unique(expected[1])) == DETECTIONS  # detections exist, their scores all differ
        assert_parity(expected, predictor(frame), min_score=0.0, where=f"{norm} image {i}")


def test_plugin_graph_matches_onnxruntime_and_eager(seeded, tmp_path_factory):
    """Surgery finds both regions; both maps are stride 32, so the RoIAlign plugin maps every RoI to level 0."""
    import onnxruntime as ort

    weights, exported = seeded("frozen")
    out = run_folder(tmp_path_factory, "mobilenet_fpn") / "frozen.trt.onnx"
    result = result_made_once(out, lambda path: surgeon(exported, path), SurgeryResult)
    assert set(result.replaced) == {ROI_ALIGN, NMS} and all(len(v) == 2 for v in result.replaced.values())
    roi_aligns = [n for n in onnx.load(result.path).graph.node if n.op_type == ROI_ALIGN]
    for node in roi_aligns:
        assert len(node.input) == 3  # rois and the two maps the poolers name
        scales = next(onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == "spatial_scales")
        assert scales == [1 / 32, 1 / 32]
    assert check(result.path).ok
    session = ort.InferenceSession(exported, ort_session_options(ort), providers=["CPUExecutionProvider"])
    runner, eager, predictor = PluginGraphRunner(result.path), _eager(weights), Predictor.from_path(result.path)
    for i, frame in enumerate(_frames()):
        images, _ = letterbox(frame, SIZE)
        want = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"images": images})))
        got = runner.run({"images": images})
        n = int(want["num_detections"][0])
        assert got["num_detections"][0] == n == DETECTIONS
        assert np.array_equal(got["classes"][0, :n], want["classes"][0, :n])
        np.testing.assert_allclose(got["boxes"][0, :n], want["boxes"][0, :n], atol=1e-3, rtol=0)
        np.testing.assert_allclose(got["scores"][0, :n], want["scores"][0, :n], atol=1e-5, rtol=0)
        np.testing.assert_allclose(got["masks"][0, :n], want["masks"][0, :n], atol=1e-4, rtol=0)
        assert_parity(eager(frame), predictor(frame), min_score=0.0, where=f"model.trt.onnx image {i}")
