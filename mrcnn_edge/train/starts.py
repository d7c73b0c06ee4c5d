"""Starting points for training (`train --init X`, `--init-backbone X`): a file's weights loaded into a freshly
built model, tensor by tensor, and one line that says what was loaded and what starts fresh.

Files as users have them, read by model.checkpoint's helpers: torchvision's ImageNet classifiers (the trunk
only: `features.*` / `conv1.*, layer1.*` become `backbone.body.*`, the classifier is dropped), torchvision's
COCO detectors (Faster, Mask and Keypoint R-CNN), detectron2's files, and our own checkpoints.

A model part (backbone, fpn, rpn, box head, ...) loads whole or not at all: a part the file has must fit
tensor for tensor, name and shape, or the start is an error, because a half-loaded trunk trains into a model
that looks fine and is not. Only the predictors, sized by the class (or keypoint) count, start fresh where
the counts differ. BatchNorm's num_batches_tracked counters are never loaded: a start is a new run, and
FrozenBatchNorm files (torchvision's COCO weights) have none.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torchvision.models.detection
from torch import Tensor, nn

from ..errors import UserError
from ..model import detectron2_checkpoint
from ..model.architectures import LIGHT_ARCH, LIGHT_KEYPOINT_ARCH, LIGHT_S8_ARCH, MOBILENET_FPN_ARCH
from ..model.checkpoint import FORMAT, infer_arch, load_file, read_checkpoint, state_dict_of

# Model parts as a reader names them, in model order: key prefix -> name. The mask predictor's upsampling
# deconv is class-free and loads on its own; its 1x1 logits layer is class-sized.
PARTS = (
    ("backbone.body.", "backbone"),
    ("backbone.fpn.", "fpn"),
    ("rpn.", "rpn"),
    ("roi_heads.box_head.", "box head"),
    ("roi_heads.box_predictor.", "box predictor"),
    ("roi_heads.mask_head.", "mask head"),
    ("roi_heads.mask_predictor.conv5_mask.", "mask upsampling"),
    ("roi_heads.mask_predictor.mask_fcn_logits.", "mask predictor"),
    ("roi_heads.keypoint_head.", "keypoint head"),
    ("roi_heads.keypoint_predictor.", "keypoint predictor"),
)
# The predictors: part -> (the tensor that holds the count, its axis, what is counted). Each starts fresh
# where the file's count differs from the model's.
PREDICTORS = {
    "box predictor": ("roi_heads.box_predictor.cls_score.weight", 0, "classes"),
    "mask predictor": ("roi_heads.mask_predictor.mask_fcn_logits.weight", 0, "classes"),
    "keypoint predictor": ("roi_heads.keypoint_predictor.kps_score_lowres.weight", 1, "keypoints"),
}
# What backbone_only (--init-backbone) loads: the parts every task shares, class- and task-free. The same
# set the synthetic trainer gave a keypoint model from the shipped mask model (train/synthetic.py).
SHARED_PARTS = ("backbone", "fpn", "rpn", "box head")
# Parts that two architectures name alike but shape differently by design: a start from a file of the first
# into a model of the second takes them fresh, with the reason (any other misfit stays an error).
RESHAPED = {
    (LIGHT_ARCH, LIGHT_S8_ARCH): {"fpn": "the file's FPN has no stride-8 input"},
    (LIGHT_KEYPOINT_ARCH, LIGHT_S8_ARCH): {"fpn": "the file's FPN has no stride-8 input"},
}
# ImageNet trunks: (name, a tensor only that classifier has, its shape) -> the architectures built on it.
_IMAGENET = {
    ("mobilenet_v3_large", "features.16.0.weight", (960, 160, 1, 1)): (MOBILENET_FPN_ARCH, LIGHT_ARCH,
                                                                         LIGHT_S8_ARCH, LIGHT_KEYPOINT_ARCH),
    ("resnet50", "layer4.2.conv3.weight", (2048, 512, 1, 1)): ("maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn_v2",
                                                                "keypointrcnn_resnet50_fpn"),
}
_CLASSIFIER_HEADS = ("classifier.", "fc.")
_CLASSIFIER_TRUNKS = ("features.", "conv1.", "layer1.")  # MobileNet's and ResNet's first tensors


@dataclass
class StartReport:
    source: str  # the file
    kind: str  # what the file was recognised as
    loaded: list[str]  # model keys loaded
    fresh: list[str]  # model keys left at their init
    notes: dict[str, str] = field(default_factory=dict)  # part -> why it is fresh ("3 classes, the file has 91")
    unused: list[str] = field(default_factory=list)  # parts of the file this model has none of
    shared_only: bool = False  # backbone_only: SHARED_PARTS only

    def line(self) -> str:
        """One line for humans: the keys grouped by part."""
        loaded = ", ".join(_parts(self.loaded)) + (": the shared parts" if self.shared_only else "")
        fresh = ", ".join(f"{p} ({self.notes[p]})" if p in self.notes else p for p in _parts(self.fresh)) or "none"
        unused = f"; unused: {', '.join(self.unused)}" if self.unused else ""
        return (f"start: {self.source} ({self.kind}): loaded {len(self.loaded)} tensors ({loaded}); "
                f"fresh: {fresh}{unused}")


@dataclass
class _Source:
    kind: str
    state: dict[str, Tensor]  # in the model's key names
    fits: tuple[str, ...]  # the architectures it was made for (for the error's advice)


def part_of(key: str) -> str:
    for prefix, name in PARTS:
        if key.startswith(prefix):
            return name
    return key.split(".")[0]


def _parts(keys) -> list[str]:
    return list(dict.fromkeys(part_of(k) for k in keys))


def _by_part(state: dict) -> dict[str, dict]:
    """Tensors grouped by part, the counters left out."""
    grouped: dict[str, dict] = {}
    for key, value in state.items():
        if not key.endswith("num_batches_tracked"):
            grouped.setdefault(part_of(key), {})[key] = value
    return grouped


def _imagenet(state: dict) -> _Source:
    """An ImageNet classifier: its trunk as backbone.body, its classifier dropped."""
    name, fits = "classifier", ()
    for (trunk, key, shape), archs in _IMAGENET.items():
        if key in state and tuple(state[key].shape) == shape:
            name, fits = trunk, archs
    mapped = {"backbone.body." + k.removeprefix("features."): v for k, v in state.items()
              if not k.startswith(_CLASSIFIER_HEADS)}
    return _Source(f"torchvision ImageNet {name}", mapped, fits)


def _detector(state: dict, path: str) -> _Source:
    """A detection state dict without our metadata: torchvision's (named as its builder) or another's."""
    try:
        arch = infer_arch(state)
    except UserError:
        raise UserError(f"{path} is neither a torchvision ImageNet classifier nor a detector of a known architecture "
                        "(no backbone.body.* or features.* tensors of one): pass a checkpoint or torchvision's "
                        "weights") from None
    name = arch if any(k.startswith("roi_heads.mask_head.") for k in state) or "keypoint" in arch \
        else arch.replace("maskrcnn", "fasterrcnn")
    cls = state.get(PREDICTORS["box predictor"][0])
    classes = int(cls.shape[0]) if cls is not None else 0
    if hasattr(torchvision.models.detection, name):  # torchvision builds it: name it as torchvision does
        coco = classes == 91 or ("keypoint" in name and classes == 2)
        kind = f"torchvision COCO {name}" if coco else f"torchvision {name} ({classes} classes)"
    else:
        kind = f"{arch} state dict"
    return _Source(kind, state, (arch,))


def _read(path: str) -> _Source:
    if path.endswith(".pkl"):  # detectron2's model zoo
        return _detectron2(path)
    obj = load_file(path)
    state = state_dict_of(obj, path, [])
    if detectron2_checkpoint.is_detectron2_state(state):
        return _detectron2(path)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        return _Source(f"mrcnn-edge checkpoint ({obj['arch']})", state, (obj["arch"],))
    if not any(k.startswith("backbone.") for k in state) and any(k.startswith(_CLASSIFIER_TRUNKS) for k in state):
        return _imagenet(state)
    return _detector(state, path)


def _detectron2(path: str) -> _Source:
    ckpt = read_checkpoint(path)  # converted to torchvision's names
    return _Source(f"detectron2 checkpoint ({ckpt.arch})", ckpt.state_dict, (ckpt.arch,))


def _advice(source: _Source, arch: str) -> str:
    trunk = next((t for (t, *_), archs in _IMAGENET.items() if arch in archs), None)
    made_for = f"a file made for {arch}" + (f" or torchvision's ImageNet {trunk}" if trunk else "")
    others = [a for a in source.fits if a != arch]
    if source.fits and not others:  # made for this architecture, yet other names or shapes
        return (f"it was made for another version or configuration of {arch} (an older torchvision's names?): "
                f"re-save its weights from the model that reads it, or pass a file of {arch} as built here")
    if not others:
        return f"pass {made_for}"
    alternatives = f" (or {', '.join(others[1:])})" if others[1:] else ""
    return f"pass --arch {others[0]}{alternatives}, or {made_for}"


def _misfit(path: str, source: _Source, arch: str, part: str, own: dict, theirs: dict) -> UserError:
    """The one-line error for a part of the file that does not fit the model's."""
    fit = [k for k in own if k in theirs and theirs[k].shape == own[k].shape]
    shaped = [k for k in own if k in theirs and theirs[k].shape != own[k].shape]
    if shaped:
        k = shaped[0]
        detail = (f"{len(shaped)} of its {part} tensors have other shapes ({k}: {tuple(theirs[k].shape)} in the file, "
                  f"{tuple(own[k].shape)} in the model)")
    elif not fit:
        detail = f"none of its {len(theirs)} {part} tensors fit {arch}'s {len(own)}"
    else:
        detail = f"only {len(fit)} of {arch}'s {len(own)} {part} tensors are in it (the file has {len(theirs)})"
    return UserError(f"{path} ({source.kind}): {detail}: {_advice(source, arch)}")


def _count(tensors: dict, part: str) -> int | None:
    key, axis, _ = PREDICTORS[part]
    return int(tensors[key].shape[axis]) if key in tensors else None


def _predictor_note(part: str, own: dict, theirs: dict) -> str | None:
    """Why a predictor starts fresh ("3 classes, the file has 91"), or None where the counts agree."""
    if part not in PREDICTORS or _count(theirs, part) in (None, _count(own, part)):
        return None
    return f"{_count(own, part)} {PREDICTORS[part][2]}, the file has {_count(theirs, part)}"


def _fits(own: dict, theirs: dict) -> bool:
    return own.keys() == theirs.keys() and all(own[k].shape == theirs[k].shape for k in own)


def _reshaped(source: _Source, arch: str) -> dict[str, str]:
    """RESHAPED's parts for a start from this file into `arch`."""
    return RESHAPED.get((source.fits[0], arch), {}) if len(source.fits) == 1 else {}


def _arch_of(model: nn.Module) -> str:
    try:
        return infer_arch(model.state_dict())
    except UserError:
        return type(model).__name__


def start_from(model: nn.Module, path: str, *, backbone_only: bool = False, arch: str | None = None) -> StartReport:
    """Load `path`'s weights into `model` where they fit; the rest keeps its init.

    backbone_only: only SHARED_PARTS (backbone, fpn, rpn, box head: what every task shares). A part the file
    has must fit whole (names and shapes), the predictors excepted where their class count differs; the file
    must hold the model's whole trunk. Anything else is a UserError naming the file, the part and the fix.
    arch: the model's architecture name for the messages (default: inferred from its tensors).
    """
    source = _read(path)
    arch = arch or _arch_of(model)
    own_parts, their_parts = _by_part(model.state_dict()), _by_part(source.state)
    if "backbone" not in their_parts:
        raise UserError(f"{path} ({source.kind}) holds no backbone tensors: {_advice(source, arch)}")
    report = StartReport(path, source.kind, [], [], shared_only=backbone_only,
                         unused=[p for p in their_parts if p not in own_parts])
    chosen = {}
    for part, own in own_parts.items():
        theirs = their_parts.get(part, {})
        note = _predictor_note(part, own, theirs)
        if (backbone_only and part not in SHARED_PARTS) or not theirs or note:
            report.fresh += list(own)
            if note and not backbone_only:
                report.notes[part] = note
            continue
        if not _fits(own, theirs):
            reshaped = _reshaped(source, arch).get(part)
            if not reshaped:
                raise _misfit(path, source, arch, part, own, theirs)
            report.fresh += list(own)
            report.notes[part] = reshaped
            continue
        chosen.update(theirs)
        report.loaded += list(own)
    with torch.no_grad():
        model.load_state_dict(chosen, strict=False)
    return report
