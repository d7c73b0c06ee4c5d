"""The architectures and the checkpoint that ships inside the package (the embedded default)."""
from __future__ import annotations

import os
from functools import lru_cache

from ..errors import UserError
from .architectures import ARCHITECTURES

_WEIGHTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "weights")
SHIPPED_CHECKPOINT = os.path.join(_WEIGHTS, "shapes_light.pth")
SHIPPED_KEYPOINT_CHECKPOINT = os.path.join(_WEIGHTS, "figures_light.pth")
SHIPPED = {"masks": SHIPPED_CHECKPOINT, "keypoints": SHIPPED_KEYPOINT_CHECKPOINT}  # task -> its shipped model
# task -> the calibration source (precision/calibration_data.py) of its shipped model: the set it was trained on
SHIPPED_CALIBRATION = {"masks": "synthetic", "keypoints": "figures"}


def default_checkpoint(task: str = "masks") -> str:
    """Path of a shipped model: the light Mask R-CNN trained on the synthetic shapes ("masks"), or the
    light Keypoint R-CNN trained on the synthetic figures ("keypoints")."""
    path = SHIPPED[task]
    if not os.path.isfile(path):
        raise UserError(f"the shipped checkpoint is missing ({path}): reinstall mrcnn-edge")
    return path


def shipped_calibration(checkpoint: str | None = None, checkpoint_sha256: str | None = None) -> str | None:
    """The calibration source of a shipped model, told by its path or by the checkpoint hash an export's
    sidecar records; None for any other model (a user's model needs images like its own)."""
    for task, path in SHIPPED.items():
        if not os.path.isfile(path):
            continue
        if checkpoint and os.path.realpath(checkpoint) == os.path.realpath(path):
            return SHIPPED_CALIBRATION[task]
        if checkpoint_sha256 and checkpoint_sha256 == _sha256(path):
            return SHIPPED_CALIBRATION[task]
    return None


@lru_cache(maxsize=None)
def _sha256(path: str) -> str:
    from ..files import sha256_of

    return sha256_of(path)


def describe_zoo() -> str:
    lines = ["Architectures:"]
    lines += [f"  {a.name:<40} {a.description}" for a in ARCHITECTURES.values()]
    for task, path in SHIPPED.items():
        if task == "masks" or os.path.isfile(path):
            lines += ["", f"Shipped checkpoint ({task}{', the embedded default' if task == 'masks' else ''}):",
                      *_describe(default_checkpoint(task))]
    return "\n".join(lines)


def _describe(path: str) -> list[str]:
    from .checkpoint import read_checkpoint

    ckpt = read_checkpoint(path)
    size_mb = os.path.getsize(ckpt.path) / 2**20
    train = ckpt.extra.get("train", {})
    metrics = ckpt.extra.get("metrics", {})
    lines = [f"  path      {ckpt.path} ({size_mb:.1f} MB)",
             f"  arch      {ckpt.arch}",
             f"  classes   {', '.join(ckpt.classes)} (+ background)",
             f"  input     {ckpt.input_size[0]}x{ckpt.input_size[1]}" if ckpt.input_size else "  input     -"]
    if ckpt.keypoint_layout:
        lines.append(f"  keypoints {', '.join(ckpt.keypoint_layout.names)}")
    if metrics:
        lines.append("  val AP    " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float)))
    if train:
        lines.append(f"  trained   {train.get('iterations_done')} iterations, seed {train.get('seed')}, "
                     f"{train.get('seconds', 0) / 60:.0f} min on CPU")
    return lines
