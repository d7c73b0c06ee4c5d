"""detectron2 checkpoints, read without detectron2: model-zoo `.pkl` and training-output `.pth` files.

- `model_final_*.pkl` (the model zoo): a pickle of `{"model": {name: numpy array}, "__author__",
  "matching_heuristics"}`, read by `_RestrictedUnpickler`, which builds only dicts, lists, strings, numbers
  and numpy arrays, and refuses any other global before anything of it runs.
- `model_final.pth` (`{"model": state_dict, "optimizer", "scheduler", "iteration"}`): `torch.load` with
  `weights_only=True`, by checkpoint.py, which hands the state dict here when it has detectron2's layout.

The architecture comes from the heads (a keypoint head's score_lowres: Keypoint R-CNN, else Mask R-CNN) and
res4's block count (6: R-50, 23: R-101), the class count from the classifier, the keypoint count from
score_lowres.
`to_torchvision` renames detectron2's keys to the torchvision modules of `detectron2_arch.py` and moves
the background class from detectron2's last index to torchvision's first.
"""
from __future__ import annotations

import io
import os
import pickle
import re

import numpy as np
import torch

from ..errors import UserError
from .detectron2_arch import KEYPOINT_RES4_BLOCKS, RES4_BLOCKS

SIGNATURE = "backbone.bottom_up.stem.conv1.weight"  # a key only detectron2's ResNet backbones have
_CLS_SCORE = "roi_heads.box_predictor.cls_score.weight"
_SCORE_LOWRES = "roi_heads.keypoint_head.score_lowres.weight"  # ConvTranspose2d [512, K, 4, 4]: Keypoint R-CNN
# detectron2 name -> torchvision name; first match wins. {n}/{i} are groups of the pattern.
_RENAMES = [
    (r"backbone\.bottom_up\.stem\.conv1\.norm\.(.+)", r"backbone.body.bn1.\1"),
    (r"backbone\.bottom_up\.stem\.conv1\.weight", r"backbone.body.conv1.weight"),
    (r"backbone\.bottom_up\.res(\d)\.(\d+)\.conv(\d)\.norm\.(.+)", lambda m: (
        f"backbone.body.layer{int(m[1]) - 1}.{m[2]}.bn{m[3]}.{m[4]}")),
    (r"backbone\.bottom_up\.res(\d)\.(\d+)\.conv(\d)\.weight", lambda m: (
        f"backbone.body.layer{int(m[1]) - 1}.{m[2]}.conv{m[3]}.weight")),
    (r"backbone\.bottom_up\.res(\d)\.(\d+)\.shortcut\.norm\.(.+)", lambda m: (
        f"backbone.body.layer{int(m[1]) - 1}.{m[2]}.downsample.1.{m[3]}")),
    (r"backbone\.bottom_up\.res(\d)\.(\d+)\.shortcut\.weight", lambda m: (
        f"backbone.body.layer{int(m[1]) - 1}.{m[2]}.downsample.0.weight")),
    (r"backbone\.fpn_lateral(\d)\.(weight|bias)", lambda m: f"backbone.fpn.inner_blocks.{int(m[1]) - 2}.0.{m[2]}"),
    (r"backbone\.fpn_output(\d)\.(weight|bias)", lambda m: f"backbone.fpn.layer_blocks.{int(m[1]) - 2}.0.{m[2]}"),
    (r"proposal_generator\.rpn_head\.conv\.(weight|bias)", r"rpn.head.conv.0.0.\1"),
    (r"proposal_generator\.rpn_head\.objectness_logits\.(weight|bias)", r"rpn.head.cls_logits.\1"),
    (r"proposal_generator\.rpn_head\.anchor_deltas\.(weight|bias)", r"rpn.head.bbox_pred.\1"),
    (r"roi_heads\.box_head\.fc1\.(weight|bias)", r"roi_heads.box_head.fc6.\1"),
    (r"roi_heads\.box_head\.fc2\.(weight|bias)", r"roi_heads.box_head.fc7.\1"),
    (r"roi_heads\.box_predictor\.(cls_score|bbox_pred)\.(weight|bias)", r"roi_heads.box_predictor.\1.\2"),
    (r"roi_heads\.mask_head\.mask_fcn(\d)\.(weight|bias)", lambda m: f"roi_heads.mask_head.{int(m[1]) - 1}.0.{m[2]}"),
    (r"roi_heads\.mask_head\.deconv\.(weight|bias)", r"roi_heads.mask_predictor.conv5_mask.\1"),
    (r"roi_heads\.mask_head\.predictor\.(weight|bias)", r"roi_heads.mask_predictor.mask_fcn_logits.\1"),
    # KeypointRCNNHeads is a Sequential of (conv, ReLU) pairs: conv_fcn{i} is its module 2(i-1)
    (r"roi_heads\.keypoint_head\.conv_fcn(\d)\.(weight|bias)", lambda m: (
        f"roi_heads.keypoint_head.{2 * (int(m[1]) - 1)}.{m[2]}")),
    (r"roi_heads\.keypoint_head\.score_lowres\.(weight|bias)", r"roi_heads.keypoint_predictor.kps_score_lowres.\1"),
]
# detectron2 state-dict entries that are no weights: batch counters, and the input normalisation
# (checked against the architecture's conventions instead)
_BOOKKEEPING = re.compile(r".*num_batches_tracked$|^pixel_(mean|std)$")


def is_detectron2_state(state: dict) -> bool:
    return SIGNATURE in state


def is_keypoint_state(state: dict) -> bool:
    return _SCORE_LOWRES in state


def infer_detectron2_arch(state: dict) -> str:
    """Keypoint or Mask R-CNN from the heads, R-50 or R-101 from the number of res4 blocks."""
    blocks = {int(m[1]) for k in state if (m := re.match(r"backbone\.bottom_up\.res4\.(\d+)\.", k))}
    archs = KEYPOINT_RES4_BLOCKS if is_keypoint_state(state) else RES4_BLOCKS
    for arch, count in archs.items():
        if len(blocks) == count:
            return arch
    supported = "R-50 (6) Keypoint R-CNN FPN" if is_keypoint_state(state) else "R-50 (6) and R-101 (23) Mask R-CNN FPN"
    raise UserError(f"detectron2 checkpoint with {len(blocks)} res4 blocks: only {supported} models are supported")


def num_keypoints_of(state: dict) -> int | None:
    """K of score_lowres (ConvTranspose2d weight [in, K, 4, 4]); None for a Mask R-CNN."""
    return int(state[_SCORE_LOWRES].shape[1]) if is_keypoint_state(state) else None


def num_classes_of(state: dict) -> int:
    """The class count with the background, as torchvision counts (detectron2's NUM_CLASSES + 1)."""
    if _CLS_SCORE not in state:
        raise UserError(f"detectron2 checkpoint without a box classifier ({_CLS_SCORE}): "
                        "it is not a full Mask R-CNN checkpoint")
    return int(state[_CLS_SCORE].shape[0])


def _rename(key: str) -> str | None:
    for pattern, target in _RENAMES:
        m = re.fullmatch(pattern, key)
        if m:
            return target(m) if callable(target) else m.expand(target)
    return None


def _background_first(name: str, t: torch.Tensor) -> torch.Tensor:
    """detectron2's class layout -> torchvision's: the classifier's background row moves from last to
    first; box regression (class-specific, no background row) and mask logits (K channels) get a zero
    background row in front, which torchvision's postprocessing never reads."""
    if name.startswith("roi_heads.box_predictor.cls_score."):
        return torch.cat([t[-1:], t[:-1]])
    if name.startswith("roi_heads.box_predictor.bbox_pred."):
        return torch.cat([t.new_zeros((4, *t.shape[1:])), t])
    if name.startswith("roi_heads.mask_predictor.mask_fcn_logits."):
        return torch.cat([t.new_zeros((1, *t.shape[1:])), t])
    return t


def to_torchvision(state: dict, path: str) -> dict[str, torch.Tensor]:
    """detectron2's state dict (tensors or numpy arrays) -> the state dict of `detectron2_arch`'s model."""
    from .conventions import DETECTRON2

    out, unknown = {}, []
    for key, value in state.items():
        if _BOOKKEEPING.match(key):
            if key.startswith("pixel_") and not np.allclose(np.ravel(np.asarray(value)),
                                                             getattr(DETECTRON2, key)):
                raise UserError(f"{path} was trained with MODEL.{key.upper()} {np.ravel(value).tolist()}, not "
                                f"detectron2's default {list(getattr(DETECTRON2, key))}: not supported")
            continue
        name = _rename(key)
        if name is None:
            unknown.append(key)
            continue
        tensor = torch.as_tensor(np.ascontiguousarray(value)) if isinstance(value, np.ndarray) else value
        out[name] = _background_first(name, tensor.float() if tensor.is_floating_point() else tensor)
    if unknown:
        shown = ", ".join(unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        raise UserError(f"{path}: {len(unknown)} detectron2 keys that no Mask/Keypoint R-CNN R-50/R-101-FPN module "
                        f"has ({shown}): the checkpoint is another detectron2 architecture")
    return out


class _RestrictedUnpickler(pickle.Unpickler):
    """Builds dicts, lists, tuples, strings, numbers and numpy arrays; refuses every other global.

    find_class runs before any object of the stream is built, so a refused global never runs."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("collections", "OrderedDict"),
        ("_codecs", "encode"),  # protocol 2 stores bytes (an array's data) as _codecs.encode(str, "latin1")
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name}")


def read_pkl(path: str) -> dict:
    """The `{"model": {name: array}}` dict of a model-zoo .pkl, through the restricted unpickler."""
    if not os.path.isfile(path):
        raise UserError(f"checkpoint not found: {path} (pass the path of a detectron2 .pkl or .pth file)")
    with open(path, "rb") as f:
        data = f.read()
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except pickle.UnpicklingError as e:
        raise UserError(f"{path} refers to the Python global '{e}', which a detectron2 weights file never "
                        "needs: refused (nothing from it ran); re-export the weights as plain arrays") from None
    except Exception as e:  # truncated or not a pickle at all
        raise UserError(f"{path} is not a detectron2 .pkl, or is truncated or corrupt ({type(e).__name__}): "
                        "re-download it") from None
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not state or not is_detectron2_state(state):
        raise UserError(f"{path} holds no detectron2 Mask R-CNN weights (no {SIGNATURE}): pass a model-zoo "
                        "model_final_*.pkl or a training output model_final.pth")
    bad = [k for k, v in state.items() if not isinstance(v, (np.ndarray, torch.Tensor))]
    if bad:
        raise UserError(f"{path}: entries that are not arrays ({', '.join(bad[:3])}): not a weights file")
    return state


def detectron2_fields(state: dict, path: str, arch: str | None = None) -> dict:
    """checkpoint.Checkpoint's fields (but path and hash) of detectron2's state dict (from read_pkl, or a
    .pth's "model"). Fields, not the Checkpoint itself: checkpoint.py reads detectron2's files through
    this module, which so never imports it back."""
    from ..keypoint_layout import default_layout

    found = infer_detectron2_arch(state)
    if arch and arch != found:
        raise UserError(f"{path} is a '{found}' checkpoint, not '{arch}': drop --arch or pass the right file")
    num_classes, num_keypoints = num_classes_of(state), num_keypoints_of(state)
    return dict(arch=found, num_classes=num_classes, classes=[f"class_{i}" for i in range(1, num_classes)],
                state_dict=to_torchvision(state, path), extra={"source": "detectron2"},
                keypoint_layout=default_layout(num_keypoints) if num_keypoints else None)
