"""Starting points (train/starts.py): each file users start from, written seeded in torchvision's exact layout
(torchvision's own builders, weights=None, then state_dict()), loaded into the architecture it suits. Loaded tensors
must hold the file's values, fresh ones their init, and the line must say which is which; a file that does not fit
is one line of UserError that names the file and what would fit."""
import pytest
import torch
from torchvision.models import mobilenet_v3_large, resnet50
from torchvision.models.detection import (fasterrcnn_mobilenet_v3_large_fpn, maskrcnn_resnet50_fpn,
                                          maskrcnn_resnet50_fpn_v2)

from mrcnn_edge.errors import UserError
from mrcnn_edge.model.architectures import (LIGHT_ARCH, LIGHT_KEYPOINT_ARCH, LIGHT_S8_ARCH, MOBILENET_FPN_ARCH,
                                            build_model)
from mrcnn_edge.model.checkpoint import load_file, state_dict_of
from mrcnn_edge.model.zoo import SHIPPED_CHECKPOINT
from mrcnn_edge.train.starts import start_from
from mrcnn_edge.train.synthetic import _SHARED

SHIPPED_HEADS = ("roi_heads.box_predictor.", "roi_heads.mask_head.", "roi_heads.mask_predictor.")
MASK_HEAD = ("roi_heads.mask_head.", "roi_heads.mask_predictor.")
CLASS_LAYERS = ("roi_heads.box_predictor.", "roi_heads.mask_predictor.mask_fcn_logits.")


def _no_counters(state: dict) -> dict:
    return {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """name -> path of each seeded file (built once: the ResNet-50 ones take a second or two each)."""
    root = tmp_path_factory.mktemp("starts")
    torch.manual_seed(0)
    builders = {
        "imagenet_mobilenet_v3_large": lambda: mobilenet_v3_large(weights=None),
        "imagenet_resnet50": lambda: resnet50(weights=None),
        "coco_fasterrcnn_mobilenet_v3_large_fpn": lambda: fasterrcnn_mobilenet_v3_large_fpn(
            weights=None, weights_backbone=None, num_classes=91),
        "coco_maskrcnn_resnet50_fpn": lambda: maskrcnn_resnet50_fpn(
            weights=None, weights_backbone=None, num_classes=91),
        "coco_maskrcnn_resnet50_fpn_v2": lambda: maskrcnn_resnet50_fpn_v2(
            weights=None, weights_backbone=None, num_classes=91),
    }
    paths = {}
    for name, build in builders.items():
        paths[name] = str(root / f"{name}.pth")
        torch.save(build().state_dict(), paths[name])
    # torchvision's real COCO files hold FrozenBatchNorm2d: no num_batches_tracked
    paths["coco_frozen"] = str(root / "coco_frozen.pth")
    torch.save(_no_counters(torch.load(paths["coco_fasterrcnn_mobilenet_v3_large_fpn"])), paths["coco_frozen"])
    return paths


def _keys(model, prefixes=("",), without=()) -> set[str]:
    """The model's keys (counters aside) under prefixes, but those under `without`."""
    keys = _no_counters(model.state_dict())
    return {k for k in keys if k.startswith(tuple(prefixes)) and not k.startswith(tuple(without))}


def _start(arch: str, path: str, num_classes: int = 3, **kwargs):
    """(model, its tensors before, report)."""
    torch.manual_seed(1)
    model = build_model(arch, num_classes=num_classes)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    return model, before, start_from(model, path, **kwargs)


def _assert_loaded(model, before, report, expected: dict) -> None:
    """Loaded keys hold the file's values (`expected`, in the model's names); fresh ones their init, untouched."""
    state = model.state_dict()
    assert set(report.loaded) == set(expected)
    for key in report.loaded:
        assert torch.equal(state[key], expected[key]), key
    for key in report.fresh:
        assert torch.equal(state[key], before[key]), key
    assert not set(report.loaded) & set(report.fresh)


def _file(path: str) -> dict:
    return state_dict_of(load_file(path), path, [])


def test_shipped_model_gives_the_lite_arch_its_shared_parts():
    """--init-backbone from the shipped model: what the synthetic trainer shared (train/synthetic.py's _SHARED)."""
    model, before, report = _start(LIGHT_ARCH, SHIPPED_CHECKPOINT, backbone_only=True)
    shipped = _file(SHIPPED_CHECKPOINT)
    _assert_loaded(model, before, report, {k: shipped[k] for k in _keys(model, _SHARED)})
    assert set(report.fresh) == _keys(model, SHIPPED_HEADS)
    assert report.kind == f"mrcnn-edge checkpoint ({LIGHT_ARCH})"
    assert report.line() == (f"start: {SHIPPED_CHECKPOINT} (mrcnn-edge checkpoint ({LIGHT_ARCH})): loaded "
                             f"{len(report.loaded)} tensors (backbone, fpn, rpn, box head: the shared parts); "
                             "fresh: box predictor, mask head, mask upsampling, mask predictor")


def test_shipped_model_starts_a_keypoint_model():
    """The synthetic keypoint model's start: the mask model's heads are the file's, not the model's."""
    model, before, report = _start(LIGHT_KEYPOINT_ARCH, SHIPPED_CHECKPOINT, num_classes=2, backbone_only=True)
    shipped = _file(SHIPPED_CHECKPOINT)
    _assert_loaded(model, before, report, {k: shipped[k] for k in _keys(model, _SHARED)})
    assert report.line().endswith("unused: mask head, mask upsampling, mask predictor")


def test_shipped_model_init_keeps_all_but_the_class_layers():
    model, before, report = _start(LIGHT_ARCH, SHIPPED_CHECKPOINT)
    shipped = _file(SHIPPED_CHECKPOINT)
    _assert_loaded(model, before, report, {k: shipped[k] for k in _keys(model, without=CLASS_LAYERS)})
    assert set(report.fresh) == _keys(model, CLASS_LAYERS)
    assert report.line().endswith(
        "fresh: box predictor (3 classes, the file has 5), mask predictor (3 classes, the file has 5)")


@pytest.mark.parametrize("arch", [MOBILENET_FPN_ARCH, LIGHT_ARCH])
def test_imagenet_mobilenet_gives_the_trunk(files, arch):
    """features.N -> backbone.body.N (the lite trunk is not dilated either: the same shapes); the classifier dropped."""
    path = files["imagenet_mobilenet_v3_large"]
    model, before, report = _start(arch, path)
    imagenet = _file(path)
    _assert_loaded(model, before, report, {"backbone.body." + k[len("features."):]: v
                                           for k, v in _no_counters(imagenet).items() if k.startswith("features.")})
    assert set(report.fresh) == _keys(model, without=("backbone.body.",))
    assert report.line() == (f"start: {path} (torchvision ImageNet mobilenet_v3_large): loaded {len(report.loaded)} "
                             "tensors (backbone); fresh: fpn, rpn, box head, box predictor, mask head, "
                             "mask upsampling, mask predictor")


def test_imagenet_resnet50_gives_the_trunk(files):
    path = files["imagenet_resnet50"]
    model, before, report = _start("maskrcnn_resnet50_fpn", path)
    imagenet = _file(path)
    _assert_loaded(model, before, report, {"backbone.body." + k: v for k, v in _no_counters(imagenet).items()
                                           if not k.startswith("fc.")})
    assert "(torchvision ImageNet resnet50): loaded 265 tensors (backbone); fresh: fpn, rpn," in report.line()


@pytest.mark.parametrize("name", ["coco_fasterrcnn_mobilenet_v3_large_fpn", "coco_frozen"])
def test_coco_faster_rcnn_gives_all_but_the_mask_head(files, name):
    """torchvision's COCO fasterrcnn_mobilenet_v3_large_fpn, as built untrained and as the real (frozen) file."""
    path = files[name]
    coco = _no_counters(_file(path))
    model, before, report = _start(MOBILENET_FPN_ARCH, path, num_classes=91)
    _assert_loaded(model, before, report, coco)
    assert set(report.fresh) == _keys(model, MASK_HEAD)
    assert report.line() == (f"start: {path} (torchvision COCO fasterrcnn_mobilenet_v3_large_fpn): loaded "
                             f"{len(coco)} tensors (backbone, fpn, rpn, box head, box predictor); "
                             "fresh: mask head, mask upsampling, mask predictor")
    model, before, report = _start(MOBILENET_FPN_ARCH, path)  # 3 classes: the box predictor starts fresh too
    _assert_loaded(model, before, report, {k: v for k, v in coco.items() if not k.startswith(CLASS_LAYERS)})
    assert set(report.fresh) == _keys(model, MASK_HEAD + CLASS_LAYERS)
    assert "; fresh: box predictor (3 classes, the file has 91), mask head, mask upsampling, mask predictor" \
        in report.line()


@pytest.mark.parametrize("arch", ["maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn_v2"])
def test_coco_mask_rcnn_gives_all_but_the_class_layers(files, arch):
    path = files[f"coco_{arch}"]
    coco = _no_counters(_file(path))
    model, before, report = _start(arch, path, num_classes=4)
    _assert_loaded(model, before, report, {k: v for k, v in coco.items() if not k.startswith(CLASS_LAYERS)})
    assert set(report.fresh) == _keys(model, CLASS_LAYERS)
    assert report.line().endswith(f"(torchvision COCO {arch}): loaded {len(report.loaded)} tensors (backbone, fpn, "
                                  "rpn, box head, mask head, mask upsampling); fresh: box predictor (4 classes, the "
                                  "file has 91), mask predictor (4 classes, the file has 91)")


def _refused(arch: str, path: str, match: str, **kwargs) -> str:
    torch.manual_seed(1)
    model = build_model(arch, num_classes=3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(UserError, match=match) as error:
        start_from(model, path, **kwargs)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # nothing half-loaded
    message = str(error.value)
    assert "\n" not in message and path in message
    return message


def test_wrong_architecture_is_one_line(files):
    r50 = files["coco_maskrcnn_resnet50_fpn"]
    message = _refused(LIGHT_ARCH, r50, "none of its 265 backbone tensors fit", backbone_only=True)
    assert "(torchvision COCO maskrcnn_resnet50_fpn)" in message and "pass --arch maskrcnn_resnet50_fpn, or" in message
    message = _refused(MOBILENET_FPN_ARCH, SHIPPED_CHECKPOINT, r"fpn tensors have other shapes")
    assert f"pass --arch {LIGHT_ARCH}, or a file made for {MOBILENET_FPN_ARCH}" in message
    _refused("maskrcnn_resnet50_fpn", files["imagenet_mobilenet_v3_large"],
             f"pass --arch {MOBILENET_FPN_ARCH} \\(or {LIGHT_ARCH}, {LIGHT_S8_ARCH}, {LIGHT_KEYPOINT_ARCH}\\), or a "
             "file made for "
             "maskrcnn_resnet50_fpn or torchvision's ImageNet resnet50")
    _refused("maskrcnn_resnet50_fpn_v2", r50, "only 8 of maskrcnn_resnet50_fpn_v2's 40 fpn tensors are in it")


def test_half_a_backbone_never_loads(files, tmp_path):
    coco = _file(files["coco_frozen"])
    path = str(tmp_path / "cut.pth")
    torch.save({k: v for k, v in coco.items() if not k.startswith("backbone.body.16.")}, path)  # the last block
    _refused(MOBILENET_FPN_ARCH, path, f"only 257 of {MOBILENET_FPN_ARCH}'s 262 backbone tensors are in it")
    torch.save({**coco, "rpn.head.cls_logits.weight": torch.zeros(9, 256, 1, 1)}, path)  # 9 anchors, not 15
    _refused(MOBILENET_FPN_ARCH, path, r"1 of its rpn tensors have other shapes \(rpn.head.cls_logits.weight: "
                                       r"\(9, 256, 1, 1\) in the file, \(15, 256, 1, 1\) in the model\)")
    torch.save({"head.weight": torch.zeros(2)}, path)
    _refused(MOBILENET_FPN_ARCH, path, "neither a torchvision ImageNet classifier nor a detector")


def test_detectron2_file_loads_in_torchvision_names(tmp_path):
    """detectron2's training output (model_final.pth), read through model/detectron2_checkpoint.py's renames."""
    from detectron2_oracle.weights import key_table
    from mrcnn_edge.model.checkpoint import read_checkpoint

    torch.manual_seed(0)
    path = str(tmp_path / "model_final.pth")
    torch.save({"model": {k: torch.randn(shape) for k, shape in key_table(50)}}, path)
    model, before, report = _start("detectron2_mask_rcnn_R_50_FPN", path)
    converted = read_checkpoint(path).state_dict
    _assert_loaded(model, before, report, {k: converted[k] for k in _keys(model, without=CLASS_LAYERS)})
    assert set(report.fresh) == _keys(model, CLASS_LAYERS)
    assert "(detectron2 checkpoint (detectron2_mask_rcnn_R_50_FPN)): loaded 301 tensors" in report.line()
