"""The optimizer and its learning-rate schedule: SGD as the paper trains (momentum 0.9, weight decay 1e-4,
linear warm-up, steps), or AdamW; step or cosine decay."""
from __future__ import annotations

import math

import torch

from .config import CocoTrainConfig

WARMUP_START = 0.001  # the warm-up's first factor (detectron2's WARMUP_FACTOR)
STEPS = (2 / 3, 8 / 9)  # where the step schedule divides by 10: detectron2's 1x (60k and 80k of 90k)


def make_optimizer(params, cfg: CocoTrainConfig, global_batch: int) -> torch.optim.Optimizer:
    lr = cfg.learning_rate(global_batch)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)


def warmup_iterations(cfg: CocoTrainConfig, iterations: int) -> int:
    return cfg.warmup if cfg.warmup is not None else min(1000, iterations // 10)


def lr_factor(it: int, iterations: int, warmup: int, schedule: str) -> float:
    """The learning rate's factor at iteration `it` (0-based) of a run of `iterations`."""
    decay = 1.0
    if schedule == "step":
        decay = 0.1 ** sum(it >= round(f * iterations) for f in STEPS)
    else:
        decay = 0.5 * (1 + math.cos(math.pi * min(it, iterations) / iterations))
    if it < warmup:
        alpha = it / warmup
        return decay * (WARMUP_START * (1 - alpha) + alpha)
    return decay


def make_scheduler(optimizer, cfg: CocoTrainConfig, iterations: int):
    warmup = warmup_iterations(cfg, iterations)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: lr_factor(it, iterations, warmup, cfg.schedule))
