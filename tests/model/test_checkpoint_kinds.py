"""Checkpoints as users have them, each built the way its tool saves it: torchvision's detection training
script, DistributedDataParallel, EMA, the fine-tuning tutorial, .safetensors; a whole pickled model is
refused in one line and never unpickled."""
import argparse
import json
import os
import pathlib

import pytest
import torch
from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights

from mrcnn_edge.cli import main
from mrcnn_edge.errors import UserError
from mrcnn_edge.model.architectures import LIGHT_ARCH, build_model
from mrcnn_edge.model.checkpoint import load_model, read_checkpoint


@pytest.fixture(scope="module")
def light91():
    """A light model in torchvision's 91-class COCO layout (background + 90 slots)."""
    torch.manual_seed(0)
    return build_model(LIGHT_ARCH, num_classes=91)


def _train_script_checkpoint(model, path, ema=None):
    """As references/detection/train.py saves `checkpoint.pth` (an SGD + MultiStepLR run with --amp);
    the classification script adds `model_ema` (an AveragedModel: `module.` keys plus `n_averaged`)."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.02, momentum=0.9, weight_decay=1e-4)
    lr_scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[16, 22], gamma=0.1)
    args = argparse.Namespace(data_path="/datasets01/COCO/022719/", dataset="coco", model="maskrcnn_resnet50_fpn",
                              device="cuda", batch_size=2, epochs=26, lr=0.02, lr_steps=[16, 22], amp=True,
                              output_dir="out", weights=None, weights_backbone="ResNet50_Weights.IMAGENET1K_V1")
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "lr_scheduler": lr_scheduler.state_dict(), "args": args, "epoch": 25,
                  "scaler": torch.amp.GradScaler("cpu").state_dict()}
    if ema is not None:
        checkpoint["model_ema"] = torch.optim.swa_utils.AveragedModel(ema).state_dict()
    torch.save(checkpoint, path)
    return str(path)


def _same_weights(model, reference) -> bool:
    loaded = model.state_dict()
    return all(torch.equal(loaded[k], v) for k, v in reference.state_dict().items())


def test_training_script_checkpoint_loads_with_coco_names(light91, tmp_path):
    path = _train_script_checkpoint(light91, tmp_path / "checkpoint.pth")
    model, ckpt = load_model(path)
    assert _same_weights(model, light91)
    coco = MaskRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]
    assert ckpt.classes == coco[1:] and ckpt.classes[0] == "person" and ckpt.classes.count("N/A") == 10
    assert any("COCO" in n for n in ckpt.notes)


def test_ema_weights_are_preferred_and_said(light91, tmp_path):
    torch.manual_seed(2)
    averaged = build_model(LIGHT_ARCH, num_classes=91)  # other weights than the raw model's
    path = _train_script_checkpoint(light91, tmp_path / "ema.pth", ema=averaged)
    model, ckpt = load_model(path)
    assert _same_weights(model, averaged) and not _same_weights(model, light91)
    assert any("'model_ema'" in n for n in ckpt.notes) and any("module." in n for n in ckpt.notes)


def test_ddp_prefix_is_removed(light91, tmp_path):
    ddp = {f"module.{k}": v for k, v in light91.state_dict().items()}  # DistributedDataParallel(model).state_dict()
    torch.save(ddp, tmp_path / "ddp.pth")
    model, ckpt = load_model(str(tmp_path / "ddp.pth"))
    assert _same_weights(model, light91) and any("module." in n for n in ckpt.notes)


def test_fine_tuning_tutorial_state_dict_and_safetensors(tmp_path):
    """The TorchVision fine-tuning tutorial's `torch.save(model.state_dict(), ...)`, and the same weights
    as .safetensors."""
    from safetensors.torch import save_file

    torch.manual_seed(1)
    model = build_model(LIGHT_ARCH, num_classes=3)
    torch.save(model.state_dict(), tmp_path / "tutorial.pth")
    save_file(model.state_dict(), str(tmp_path / "model.safetensors"))
    for name in ("tutorial.pth", "model.safetensors"):
        loaded, ckpt = load_model(str(tmp_path / name))
        assert _same_weights(loaded, model) and ckpt.classes == ["class_1", "class_2"]
    (tmp_path / "cut.safetensors").write_bytes((tmp_path / "model.safetensors").read_bytes()[:5000])
    with pytest.raises(UserError, match="not a valid .safetensors"):
        read_checkpoint(str(tmp_path / "cut.safetensors"))


def test_whole_pickled_model_is_refused_in_one_line(tmp_path):
    torch.manual_seed(0)
    torch.save(build_model(LIGHT_ARCH, num_classes=3), tmp_path / "whole.pth")
    with pytest.raises(UserError) as e:
        read_checkpoint(str(tmp_path / "whole.pth"))
    msg = str(e.value)
    assert "\n" not in msg and "torch.save(model.state_dict()" in msg and "weights_only=False" in msg
    assert "MaskRCNN" in msg


class _Payload:
    """Unpickling this would create the marker file: a stand-in for a malicious checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def test_a_pickle_that_runs_code_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"model": _Payload(str(marker))}, tmp_path / "evil.pth")
    with pytest.raises(UserError, match="never unpickled"):
        read_checkpoint(str(tmp_path / "evil.pth"))
    assert not marker.exists()
    torch.load(tmp_path / "evil.pth", weights_only=False)  # the payload is live: unpickling would run it
    assert marker.exists()


def test_train_script_checkpoint_exports_with_classes_flag(light91, tmp_path, capsys):
    """The whole chain from a training-script file: `export --classes FILE` names land in the sidecar."""
    path = _train_script_checkpoint(light91, tmp_path / "checkpoint.pth")
    names = [f"thing{i}" for i in range(90)]
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    out = str(tmp_path / "m.onnx")
    assert main(["export", "--weights", path, "--size", "320x320", "--classes", str(tmp_path / "names.txt"),
                 "-o", out]) == 0
    with open(os.path.splitext(out)[0] + ".json") as f:
        assert json.load(f)["classes"] == names
    assert main(["export", "--weights", path, "--size", "320x320", "--classes", "a,b", "-o", out]) == 2
    assert "2 class names given" in capsys.readouterr().err
