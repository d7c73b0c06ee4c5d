"""The trunk's BatchNorm while fine-tuning (train/norm.py): frozen, it computes what torchvision's own
FrozenBatchNorm2d computes, and a run that starts from trained weights ends with the start's statistics and
scale; `--norm batch` trains them."""
import copy

import pytest
import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from mrcnn_edge.data.hardware import write_hardware_coco
from mrcnn_edge.model.architectures import LIGHT_ARCH, build_model
from mrcnn_edge.model.zoo import SHIPPED_CHECKPOINT
from mrcnn_edge.train.config import CocoTrainConfig
from mrcnn_edge.train.loop import train_coco
from mrcnn_edge.train.norm import freeze_trunk_norm, train_mode, trunk_norm


def _with_torchvision_frozen_norm(module: nn.Module) -> nn.Module:
    """A copy of `module` with every BatchNorm2d swapped for torchvision's FrozenBatchNorm2d, stats and eps kept."""
    out = copy.deepcopy(module)
    for name, child in list(out.named_children()):
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
            for key in ("weight", "bias", "running_mean", "running_var"):
                getattr(frozen, key).copy_(getattr(child, key).detach())
            setattr(out, name, frozen)
        else:
            setattr(out, name, _with_torchvision_frozen_norm(child))
    return out


@pytest.fixture(scope="module")
def light_model():
    torch.manual_seed(0)
    model = build_model(LIGHT_ARCH, num_classes=3)
    for m in model.backbone.body.modules():  # statistics unlike a batch's, so frozen and batch differ
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    return model


@pytest.mark.parametrize("frozen", [True, False])
def test_frozen_trunk_computes_what_torchvision_frozen_batchnorm_does(light_model, frozen):
    model = copy.deepcopy(light_model)
    oracle = _with_torchvision_frozen_norm(model.backbone.body).eval()
    layers = freeze_trunk_norm(model) if frozen else 0
    train_mode(model, frozen)
    x = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        same = torch.allclose(model.backbone.body(x)["0"], oracle(x)["0"], atol=1e-5)
    # not frozen, the trunk normalises by the batch's statistics: the comparison can fail
    assert same == frozen
    if frozen:
        assert layers > 30 and not any(p.requires_grad for m in model.backbone.body.modules()
                                       if isinstance(m, nn.BatchNorm2d) for p in m.parameters())
        assert model.roi_heads.training and model.backbone.fpn.training  # the rest trains as before


def test_auto_freezes_only_a_trunk_that_starts_from_weights():
    assert trunk_norm("auto", started=True) == "frozen" and trunk_norm("auto", started=False) == "batch"
    assert trunk_norm("batch", started=True) == "batch"


@pytest.fixture(scope="module")
def coco_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("norm_set")
    return write_hardware_coco(str(root), num_images=4, seed=9, sizes=((224, 224),)), str(root / "images")


def _trunk_norm_tensors(path: str) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=True)["model"]
    bn = {k.rsplit(".", 1)[0] for k in state if k.startswith("backbone.body.") and k.endswith("running_mean")}
    return {k: v for k, v in state.items() if k.rsplit(".", 1)[0] in bn and not k.endswith("num_batches_tracked")}


@pytest.mark.parametrize("norm", ["auto", "batch"])
def test_fine_tuning_keeps_the_start_trunk_statistics_unless_told(coco_set, tmp_path, norm, capsys):
    annotations, images = coco_set
    train_coco(CocoTrainConfig(data=annotations, images=images, out=str(tmp_path / "run"), size=(320, 320),
                               init_backbone=SHIPPED_CHECKPOINT, iterations=3, batch=2, workers=0, norm=norm,
                               optimizer="adamw", lr=1e-3, warmup=1))
    start, end = _trunk_norm_tensors(SHIPPED_CHECKPOINT), _trunk_norm_tensors(str(tmp_path / "run" / "last.pth"))
    assert start.keys() == end.keys() and len(start) > 100
    unchanged = all(torch.equal(start[k], end[k]) for k in start)
    assert unchanged == (norm == "auto")
    assert ("trunk norm: frozen" in capsys.readouterr().out) == (norm == "auto")
