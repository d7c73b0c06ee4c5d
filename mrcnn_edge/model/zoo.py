"""The architectures and the checkpoint that ships inside the package (the embedded default)."""
from __future__ import annotations

import os

from ..errors import UserError
from .architectures import ARCHITECTURES

SHIPPED_CHECKPOINT = os.path.join(os.path.dirname(os.path.dirname(__file__)), "weights", "shapes_light.pth")


def default_checkpoint() -> str:
    """Path of the shipped demo model: the light architecture trained on the synthetic shapes."""
    if not os.path.isfile(SHIPPED_CHECKPOINT):
        raise UserError(f"the shipped checkpoint is missing ({SHIPPED_CHECKPOINT}): reinstall mrcnn-edge")
    return SHIPPED_CHECKPOINT


def describe_zoo() -> str:
    from .checkpoint import read_checkpoint

    lines = ["Architectures:"]
    lines += [f"  {a.name:<40} {a.description}" for a in ARCHITECTURES.values()]
    ckpt = read_checkpoint(default_checkpoint())
    size_mb = os.path.getsize(ckpt.path) / 2**20
    train = ckpt.extra.get("train", {})
    metrics = ckpt.extra.get("metrics", {})
    lines += ["", "Shipped checkpoint (the embedded default):",
              f"  path      {ckpt.path} ({size_mb:.1f} MB)",
              f"  arch      {ckpt.arch}",
              f"  classes   {', '.join(ckpt.classes)} (+ background)",
              f"  input     {ckpt.input_size[0]}x{ckpt.input_size[1]}" if ckpt.input_size else "  input     -"]
    if metrics:
        lines.append("  val AP    " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float)))
    if train:
        lines.append(f"  trained   {train.get('iterations_done')} iterations, seed {train.get('seed')}, "
                     f"{train.get('seconds', 0) / 60:.0f} min on CPU")
    return "\n".join(lines)
