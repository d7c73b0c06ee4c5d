"""Checkpoints as users have them: torchvision state dicts, the training scripts' files, DDP and EMA
weights, `.safetensors`, and our own format.

Our format is a plain dict that `torch.load(weights_only=True)` accepts:
`{"format": "mrcnn-edge/1", "arch", "num_classes", "classes", "input_size", "build_settings", "model": state_dict,
...}`.
Nothing is ever unpickled beyond tensors, containers and `argparse.Namespace` (the `args` entry of
torchvision's `references/detection/train.py` files).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import re
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from torchvision.models.detection import MaskRCNN

from ..errors import UserError
from ..files import sha256_of, write_atomic
from . import detectron2_checkpoint
from ..keypoint_layout import KeypointLayout, default_layout
from .architectures import (ARCHITECTURES, LIGHT_ARCH, LIGHT_KEYPOINT_ARCH, LIGHT_S8_ARCH, MOBILENET_FPN_ARCH,
                            build_model)
from .class_names import UNUSED, coco_class_names, default_class_names

FORMAT = "mrcnn-edge/1"
# Keys that tell the architectures apart: the first architecture whose keys a state dict all has is its own.
# The MobileNetV3 architectures share the trunk; the lite ones have a third FPN input, the stride-8 one a fourth.
_SIGNATURES = {
    "maskrcnn_resnet50_fpn_v2": ("roi_heads.box_head.0.0.weight",),
    "maskrcnn_resnet50_fpn": ("backbone.body.layer1.0.conv1.weight",),
    LIGHT_S8_ARCH: ("backbone.body.0.0.weight", "backbone.fpn.inner_blocks.3.0.weight"),
    LIGHT_ARCH: ("backbone.body.0.0.weight", "backbone.fpn.inner_blocks.2.0.weight"),
    MOBILENET_FPN_ARCH: ("backbone.body.0.0.weight",),
}
# A Keypoint R-CNN has the trunk of its Mask R-CNN sibling and this tensor (ConvTranspose2d [C, K, 4, 4]).
_KEYPOINT_KEY = "roi_heads.keypoint_predictor.kps_score_lowres.weight"
_KEYPOINT_ARCH = {"maskrcnn_resnet50_fpn": "keypointrcnn_resnet50_fpn", LIGHT_ARCH: LIGHT_KEYPOINT_ARCH}
_NUM_CLASSES_KEY = "roi_heads.box_predictor.cls_score.weight"
# Entries holding weights in the files training code writes, in the order they are preferred. EMA
# weights come first: the scripts that keep them evaluate (and mean you to deploy) the average.
_WEIGHT_ENTRIES = ("model_ema", "ema", "model", "state_dict")
# What torch.load may build besides tensors and containers: the training script's parsed arguments.
SAFE_GLOBALS = [argparse.Namespace]


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
    notes: list[str] = field(default_factory=list)  # what was done to read the file (DDP prefix, EMA, names)
    keypoint_layout: KeypointLayout | None = None  # keypoint models only
    saved_settings: dict = field(default_factory=dict)  # build_model options the file records (e.g. norm)

    @property
    def build_settings(self) -> dict:
        """What build_model needs beyond the class count to rebuild this checkpoint's model."""
        keypoints = {"num_keypoints": self.keypoint_layout.num_keypoints} if self.keypoint_layout else {}
        return {**self.saved_settings, **keypoints}


def _torch_load(path: str):
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        if "Weights only load failed" in str(e) and found:
            stem = os.path.splitext(os.path.basename(path))[0]
            raise UserError(f"{path} holds pickled Python objects ({found.group(1)}), such as a whole model saved "
                            "with torch.save(model), and is never unpickled here (unpickling runs code): if you "
                            f"trust it, re-save its weights with `model = torch.load('{path}', weights_only=False)`"
                            f" then `torch.save(model.state_dict(), '{stem}_state_dict.pth')` and pass that") from None
        raise UserError(f"{path} is not a PyTorch checkpoint, or is truncated or corrupt: "
                        "re-download or re-save it") from None
    except Exception as e:  # torch.load on arbitrary bytes can raise almost anything; none of it helps the user
        raise UserError(f"{path} is not a PyTorch checkpoint, or is truncated or corrupt ({type(e).__name__}): "
                        "re-download or re-save it") from None


def _safetensors_load(path: str) -> dict:
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise UserError(f"{path} is a .safetensors file and the safetensors package is missing: "
                        "pip install safetensors") from None
    try:
        return load_file(path, device="cpu")
    except Exception as e:  # a header that does not parse, or a file cut short
        raise UserError(f"{path} is not a valid .safetensors file, or is truncated ({type(e).__name__}): "
                        "re-download or re-save it") from None


# File suffix -> reader returning the file's object; anything else is read by torch.load (.pth, .pt, .bin).
# A reader for another framework's files (e.g. detectron2's .pkl) slots in here as one more entry.
READERS: dict[str, Callable[[str], object]] = {".safetensors": _safetensors_load}


def load_file(path: str):
    """The object a checkpoint file holds, read by the reader for its suffix (never unpickling code)."""
    if not os.path.isfile(path):
        raise UserError(f"checkpoint not found: {path} (pass the path of a .pth or .safetensors file)")
    return READERS.get(os.path.splitext(path)[1].lower(), _torch_load)(path)


def _is_state_dict(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _strip_prefix(state: dict, notes: list[str]) -> dict:
    """DistributedDataParallel (and torch.optim.swa_utils.AveragedModel, which EMA is) name every tensor
    `module.<name>`; AveragedModel adds its `n_averaged` counter."""
    state = {k: v for k, v in state.items() if k != "n_averaged"}
    if state and all(k.startswith("module.") for k in state):
        notes.append("removed the `module.` prefix of DistributedDataParallel / EMA weights")
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def state_dict_of(obj, path: str, notes: list[str]) -> dict[str, torch.Tensor]:
    """The model weights in a loaded file: a bare state dict, or one of the _WEIGHT_ENTRIES of a
    training checkpoint (torchvision's train.py: model, optimizer, lr_scheduler, args, epoch, ...)."""
    if _is_state_dict(obj):
        return _strip_prefix(obj, notes)
    if isinstance(obj, dict):
        for key in _WEIGHT_ENTRIES:
            if _is_state_dict(obj.get(key)):
                others = [k for k in _WEIGHT_ENTRIES if k != key and _is_state_dict(obj.get(k))]
                if others:
                    notes.append(f"used the '{key}' weights of {path} (it also holds {', '.join(others)})")
                return _strip_prefix(obj[key], notes)
    entries = ", ".join(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
    raise UserError(f"{path} holds no state dict of tensors (found: {entries or 'nothing'}): save "
                    "model.state_dict(), or a dict with it under 'model'")


def infer_arch(state_dict: dict) -> str:
    """The first architecture whose signature tensors the state dict all has (v2 before v1, lite before the
    MobileNetV3 FPN)."""
    for arch, keys in _SIGNATURES.items():
        if all(key in state_dict for key in keys):
            return _KEYPOINT_ARCH.get(arch, arch) if _KEYPOINT_KEY in state_dict else arch
    firsts = dict.fromkeys(keys[0] for keys in _SIGNATURES.values())
    raise UserError("checkpoint is not a Mask R-CNN state dict of a known architecture "
                    f"(none of {', '.join(firsts)} found): pass --arch or check the file")


def _from_detectron2(state: dict, path: str, arch: str | None, classes: list[str] | None,
                     notes: list[str]) -> Checkpoint:
    fields = detectron2_checkpoint.detectron2_fields(state, path, arch)
    return _detectron2_named(Checkpoint(**fields, path=path, sha256=sha256_of(path)), classes, notes)


def read_checkpoint(path: str, arch: str | None = None, classes: list[str] | None = None) -> Checkpoint:
    """Read any supported checkpoint file; infers arch, class count and (where the file has none)
    class names. `classes` (background excluded) overrides the file's names."""
    notes: list[str] = []
    if path.endswith(".pkl"):  # detectron2's model zoo
        return _from_detectron2(detectron2_checkpoint.read_pkl(path), path, arch, classes, notes)
    obj = load_file(path)
    meta = obj if isinstance(obj, dict) and obj.get("format") == FORMAT else {}
    state = state_dict_of(obj, path, notes)
    if detectron2_checkpoint.is_detectron2_state(state):  # detectron2's training output model_final.pth
        return _from_detectron2(state, path, arch, classes, notes)
    found = meta.get("arch") or infer_arch(state)
    if arch and arch != found:
        raise UserError(f"{path} is a '{found}' checkpoint, not '{arch}': drop --arch or pass the right file")
    if _NUM_CLASSES_KEY not in state:
        raise UserError(f"{path} has no box predictor ({_NUM_CLASSES_KEY}): it is not a full Mask R-CNN checkpoint")
    num_classes = int(state[_NUM_CLASSES_KEY].shape[0])
    names = _class_names(classes or meta.get("classes"), num_classes, path, notes)
    size = meta.get("input_size")
    return Checkpoint(arch=found, num_classes=num_classes, classes=names, state_dict=state,
                      input_size=tuple(size) if size else None, path=path, sha256=sha256_of(path),
                      extra=meta.get("extra", {}), notes=notes, keypoint_layout=_keypoint_layout(state, meta, notes),
                      saved_settings=dict(meta.get("build_settings") or {}))


def _keypoint_layout(state: dict, meta: dict, notes: list[str]) -> KeypointLayout | None:
    """The file's own layout, else COCO's person layout for 17 keypoints (torchvision's), else numbered joints."""
    if _KEYPOINT_KEY not in state:
        return None
    if meta.get("keypoint_layout"):
        return KeypointLayout.from_json(meta["keypoint_layout"])
    layout = default_layout(int(state[_KEYPOINT_KEY].shape[1]))
    notes.append("keypoint layout: COCO's 17 person keypoints (torchvision's metadata)" if layout.limbs else
                 f"keypoint layout: {layout.num_keypoints} numbered keypoints, no skeleton (the file names none)")
    return layout


def _detectron2_named(ckpt: Checkpoint, classes: list[str] | None, notes: list[str]) -> Checkpoint:
    """detectron2 files carry no names. An 81-class one is detectron2's COCO layout: the 80 used
    categories, contiguous, in COCO id order (its builtin_meta), so torchvision's names without N/A.
    A one-class Keypoint R-CNN is its COCO person model (keypoints_coco_2017: thing_classes ["person"])."""
    if ckpt.keypoint_layout:
        notes.append(f"keypoint layout: {ckpt.keypoint_layout.num_keypoints} keypoints"
                     + (", COCO's person layout (torchvision's metadata)" if ckpt.keypoint_layout.limbs else ""))
    if not classes and ckpt.num_classes == 81:
        notes.append("class names: COCO's 80 (detectron2's contiguous COCO layout), from torchvision's metadata")
        names = [n for n in coco_class_names() if n != UNUSED]
    elif not classes and ckpt.keypoint_layout and ckpt.num_classes == 2:
        notes.append("class names: person (detectron2's COCO keypoint layout)")
        names = ["person"]
    else:
        names = _class_names(classes, ckpt.num_classes, ckpt.path, notes)
    return dataclasses.replace(ckpt, classes=names, notes=notes)


def _class_names(given, num_classes: int, path: str, notes: list[str]) -> list[str]:
    if given:
        if len(given) != num_classes - 1:
            raise UserError(f"{len(given)} class names given for {path}, which has {num_classes - 1} classes "
                            "(background excluded): pass one name per class, in the model's order")
        return list(given)
    names, source = default_class_names(num_classes)
    if source:
        notes.append(f"class names: {source}")
    return names


def load_model(path: str, *, arch: str | None = None, num_classes: int | None = None, classes=None,
               **test_settings) -> tuple[MaskRCNN, Checkpoint]:
    """Build the checkpoint's architecture and load its weights strictly. Returns (model in eval, checkpoint)."""
    ckpt = read_checkpoint(path, arch, classes)
    if num_classes is not None and num_classes != ckpt.num_classes:
        raise UserError(f"{path} has {ckpt.num_classes} classes (background included), not {num_classes}: "
                        "pass the matching --num-classes or checkpoint")
    model = build_model(ckpt.arch, num_classes=ckpt.num_classes, **ckpt.build_settings, **test_settings)
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


def save_checkpoint(path: str, model: MaskRCNN, *, arch: str, classes, input_size=None, extra=None,
                    keypoint_layout: dict | None = None, build_settings: dict | None = None) -> None:
    """Save in our format: weights plus what deployment needs to know about them. build_settings: the
    build_model options the model was built with beyond the class count (e.g. {"norm": "batch"}), which
    every later stage rebuilds it with."""
    if arch not in ARCHITECTURES:
        raise UserError(f"unknown architecture '{arch}'")
    with write_atomic(path) as tmp:  # a killed save never leaves a truncated checkpoint behind
        torch.save({"format": FORMAT, "arch": arch, "num_classes": len(classes) + 1, "classes": list(classes),
                    "input_size": list(input_size) if input_size else None, "extra": extra or {},
                    "keypoint_layout": keypoint_layout, "build_settings": dict(build_settings or {}),
                    "model": model.state_dict()}, tmp)
