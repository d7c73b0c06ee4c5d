"""The trunk's BatchNorm while training: frozen (running statistics and scale fixed) or trained.

torchvision builds a trunk that starts from trained weights with FrozenBatchNorm2d, and detectron2 freezes it
too: with 2 images a process, batch statistics are noise, and training on them moves the running statistics
away from the ones the weights were learned with. Architectures whose trunk is plain BatchNorm2d (the light
model, and torchvision's ResNet builders without their weights) get the same effect here without a change of
modules, so their checkpoints keep their keys: those layers stay in eval mode and out of the optimizer.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: the CLI's parser reads TRUNK_NORMS without loading it
    from torch import nn

TRUNK_NORMS = ("auto", "frozen", "batch")


def trunk_norm(norm: str, started: bool) -> str:
    """'frozen' or 'batch': `auto` freezes a trunk that starts from trained weights (--init, --init-backbone)."""
    return ("frozen" if started else "batch") if norm == "auto" else norm


def _trunk_batchnorms(model: nn.Module) -> list[nn.BatchNorm2d]:
    from torch import nn

    return [m for m in model.backbone.body.modules() if isinstance(m, nn.BatchNorm2d)]


def freeze_trunk_norm(model: nn.Module) -> int:
    """Take the trunk's BatchNorm scale and shift out of training; returns how many layers. Call
    `train_mode` instead of model.train() from then on."""
    layers = _trunk_batchnorms(model)
    for m in layers:
        m.requires_grad_(False)
    return len(layers)


def train_mode(model: nn.Module, frozen: bool) -> None:
    """model.train(), the trunk's BatchNorm in eval mode (normalising with its running statistics) when frozen."""
    model.train()
    if frozen:
        for m in _trunk_batchnorms(model):
            m.eval()
