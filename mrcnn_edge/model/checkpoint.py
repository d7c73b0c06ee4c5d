"""Checkpoints: torchvision state dicts, `{"model": state_dict}` files, and our own format.

Our format is a plain dict that `torch.load(weights_only=True)` accepts:
`{"format": "mrcnn-edge/1", "arch", "num_classes", "classes", "input_size", "model": state_dict, ...}`.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field

import torch
from torch import nn
from torchvision.models.detection import MaskRCNN

from ..errors import UserError
from ..files import sha256_of
from . import detectron2_checkpoint
from .architectures import ARCHITECTURES, LIGHT_ARCH, build_model

FORMAT = "mrcnn-edge/1"
# Keys that tell the architectures apart; each names a tensor only that architecture has.
_SIGNATURES = {
    "maskrcnn_resnet50_fpn_v2": "roi_heads.box_head.0.0.weight",
    "maskrcnn_resnet50_fpn": "backbone.body.layer1.0.conv1.weight",
    LIGHT_ARCH: "backbone.body.0.0.weight",
}
_NUM_CLASSES_KEY = "roi_heads.box_predictor.cls_score.weight"


@dataclass
class Checkpoint:
    arch: str
    num_classes: int
    classes: list[str]
    state_dict: dict[str, torch.Tensor]
    input_size: tuple[int, int] | None = None
    path: str = ""
    sha256: str = ""
    extra: dict = field(default_factory=dict)


def _torch_load(path: str):
    if not os.path.isfile(path):
        raise UserError(f"checkpoint not found: {path} (pass the path of a .pth file)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "Weights only load failed" in str(e) and "Unsupported global" in str(e):
            raise UserError(f"{path} holds pickled Python objects, not only tensors: re-save it with "
                            "torch.save(model.state_dict(), path)") from None
        raise UserError(f"{path} is not a PyTorch checkpoint, or is truncated or corrupt: "
                        "re-download or re-save it") from None
    except Exception as e:  # torch.load on arbitrary bytes can raise almost anything; none of it helps the user
        raise UserError(f"{path} is not a PyTorch checkpoint, or is truncated or corrupt ({type(e).__name__}): "
                        "re-download or re-save it") from None


def infer_arch(state_dict: dict) -> str:
    """The architecture whose signature tensor the state dict has (v2 is checked before v1)."""
    for arch, key in _SIGNATURES.items():
        if key in state_dict:
            return arch
    raise UserError("checkpoint is not a Mask R-CNN state dict of a known architecture "
                    f"(none of {', '.join(_SIGNATURES.values())} found): pass --arch or check the file")


def read_checkpoint(path: str, arch: str | None = None) -> Checkpoint:
    """Read any supported checkpoint file; infers arch and class count where the file does not say."""
    if path.endswith(".pkl"):  # detectron2's model zoo
        return detectron2_checkpoint.read_detectron2_pkl(path, arch)
    obj = _torch_load(path)
    meta = obj if isinstance(obj, dict) and obj.get("format") == FORMAT else {}
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path} holds no state dict of tensors: save model.state_dict() or {{'model': ...}}")
    if detectron2_checkpoint.is_detectron2_state(state):  # detectron2's training output model_final.pth
        return detectron2_checkpoint.detectron2_checkpoint(state, path, arch)
    found = meta.get("arch") or infer_arch(state)
    if arch and arch != found:
        raise UserError(f"{path} is a '{found}' checkpoint, not '{arch}': drop --arch or pass the right file")
    if _NUM_CLASSES_KEY not in state:
        raise UserError(f"{path} has no box predictor ({_NUM_CLASSES_KEY}): it is not a full Mask R-CNN checkpoint")
    num_classes = int(state[_NUM_CLASSES_KEY].shape[0])
    classes = list(meta.get("classes") or [f"class_{i}" for i in range(1, num_classes)])
    size = meta.get("input_size")
    return Checkpoint(arch=found, num_classes=num_classes, classes=classes, state_dict=state,
                      input_size=tuple(size) if size else None, path=path, sha256=sha256_of(path),
                      extra=meta.get("extra", {}))


def load_model(path: str, arch: str | None = None, num_classes: int | None = None,
               **test_settings) -> tuple[MaskRCNN, Checkpoint]:
    """Build the checkpoint's architecture and load its weights strictly. Returns (model in eval, checkpoint)."""
    ckpt = read_checkpoint(path, arch)
    if num_classes is not None and num_classes != ckpt.num_classes:
        raise UserError(f"{path} has {ckpt.num_classes} classes (background included), not {num_classes}: "
                        "pass the matching --num-classes or checkpoint")
    model = build_model(ckpt.arch, num_classes=ckpt.num_classes, **test_settings)
    load_state_dict_strict(model, ckpt.state_dict, path)
    return model.eval(), ckpt


def load_state_dict_strict(model: nn.Module, state: dict, path: str) -> None:
    """Load every tensor or fail naming what is missing, unexpected or mis-shaped.

    BatchNorm's `num_batches_tracked` counters are training bookkeeping: torchvision's own COCO files
    (FrozenBatchNorm) lack them, so their absence is not an error.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
              if k in state and state[k].shape != v.shape]
    for what, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", shapes)):
        if keys:
            shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
            raise UserError(f"{path}: {len(keys)} {what} keys for this architecture ({shown}): "
                            "the checkpoint was made for another architecture or configuration")
    model.load_state_dict(state, strict=False)


def save_checkpoint(path: str, model: MaskRCNN, *, arch: str, classes, input_size=None, extra=None) -> None:
    """Save in our format: weights plus what deployment needs to know about them."""
    if arch not in ARCHITECTURES:
        raise UserError(f"unknown architecture '{arch}'")
    tmp = path + ".tmp"
    torch.save({"format": FORMAT, "arch": arch, "num_classes": len(classes) + 1, "classes": list(classes),
                "input_size": list(input_size) if input_size else None, "extra": extra or {},
                "model": model.state_dict()}, tmp)
    os.replace(tmp, path)  # a killed save never leaves a truncated checkpoint behind
