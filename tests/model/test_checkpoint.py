"""Checkpoint loading: torchvision's own state dicts load unchanged; every bad file gets one clear line."""
import collections

import pytest
import torch
from torchvision.models.detection import maskrcnn_resnet50_fpn, maskrcnn_resnet50_fpn_v2

from mrcnn_edge.errors import UserError
from mrcnn_edge.model.architectures import LIGHT_ARCH, build_model
from mrcnn_edge.model.checkpoint import load_model, read_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def torchvision_v1(tmp_path_factory):
    """A state dict saved from torchvision's own constructor, as the COCO download is: FrozenBatchNorm
    buffers, so no `num_batches_tracked`."""
    torch.manual_seed(0)
    state = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91).state_dict()
    state = collections.OrderedDict((k, v) for k, v in state.items() if not k.endswith("num_batches_tracked"))
    path = tmp_path_factory.mktemp("ckpt") / "maskrcnn_resnet50_fpn_coco.pth"
    torch.save(state, path)
    return path, state


@pytest.fixture(scope="module")
def torchvision_v2(tmp_path_factory):
    torch.manual_seed(0)
    state = maskrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=3).state_dict()
    path = tmp_path_factory.mktemp("ckpt") / "v2.pth"
    torch.save({"model": state, "epoch": 12}, path)
    return path, state


def test_plain_torchvision_state_dict_loads_unchanged(torchvision_v1):
    path, state = torchvision_v1
    model, ckpt = load_model(str(path))
    assert ckpt.arch == "maskrcnn_resnet50_fpn" and ckpt.num_classes == 91
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


def test_model_key_wrapper_and_v2_inferred(torchvision_v2):
    path, state = torchvision_v2
    model, ckpt = load_model(str(path))
    assert ckpt.arch == "maskrcnn_resnet50_fpn_v2" and ckpt.num_classes == 3
    assert torch.equal(model.state_dict()["roi_heads.box_head.0.0.weight"], state["roi_heads.box_head.0.0.weight"])


def test_own_format_round_trips(tmp_path):
    model = build_model(LIGHT_ARCH, num_classes=3)
    path = tmp_path / "own.pth"
    save_checkpoint(str(path), model, arch=LIGHT_ARCH, classes=["cat", "dog"], input_size=(320, 480))
    ckpt = read_checkpoint(str(path))
    assert (ckpt.arch, ckpt.classes, ckpt.input_size, ckpt.num_classes) == (LIGHT_ARCH, ["cat", "dog"], (320, 480), 3)
    assert len(ckpt.sha256) == 64


def _one_line(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg
    return msg


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="checkpoint not found") as e:
        load_model(str(tmp_path / "nope.pth"))
    _one_line(e)


def test_truncated_file(torchvision_v1, tmp_path):
    path, _ = torchvision_v1
    cut = tmp_path / "cut.pth"
    cut.write_bytes(path.read_bytes()[: 1_000_000])
    with pytest.raises(UserError, match="truncated or corrupt") as e:
        load_model(str(cut))
    _one_line(e)


def test_not_a_checkpoint(tmp_path):
    junk = tmp_path / "notes.pth"
    junk.write_text("these are not weights")
    with pytest.raises(UserError, match="not a PyTorch checkpoint, or is truncated or corrupt"):
        load_model(str(junk))


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "pickled.pth"
    torch.save({"model": build_model(LIGHT_ARCH, num_classes=2)}, path)  # a whole module, not a state dict
    with pytest.raises(UserError, match="pickled Python objects"):
        load_model(str(path))


def test_wrong_architecture_named(torchvision_v2):
    path, _ = torchvision_v2
    with pytest.raises(UserError, match="is a 'maskrcnn_resnet50_fpn_v2' checkpoint, not 'maskrcnn_resnet50_fpn'"):
        load_model(str(path), arch="maskrcnn_resnet50_fpn")


def test_wrong_class_count(torchvision_v2):
    path, _ = torchvision_v2
    with pytest.raises(UserError, match="has 3 classes .* not 91"):
        load_model(str(path), num_classes=91)


def test_missing_and_unexpected_keys_are_reported(tmp_path):
    state = build_model(LIGHT_ARCH, num_classes=3).state_dict()
    del state["roi_heads.mask_head.0.0.weight"]
    torch.save(state, tmp_path / "missing.pth")
    with pytest.raises(UserError, match="1 missing keys .*roi_heads.mask_head.0.0.weight"):
        load_model(str(tmp_path / "missing.pth"))
    state = build_model(LIGHT_ARCH, num_classes=3).state_dict()
    state["roi_heads.extra_head.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "unexpected.pth")
    with pytest.raises(UserError, match="1 unexpected keys .*roi_heads.extra_head.weight"):
        load_model(str(tmp_path / "unexpected.pth"))


def test_other_configuration_is_reported(tmp_path):
    narrow = build_model(LIGHT_ARCH, num_classes=3)
    state = narrow.state_dict()
    state["roi_heads.box_head.fc6.weight"] = torch.zeros(128, 6272)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(UserError, match="mis-shaped"):
        load_model(str(tmp_path / "shape.pth"))


def test_not_mask_rcnn(tmp_path):
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "mlp.pth")
    with pytest.raises(UserError, match="not a Mask R-CNN state dict"):
        load_model(str(tmp_path / "mlp.pth"))
