"""Train an architecture on the synthetic shapes set on the CPU: how the shipped demo model is made.

Training draws fresh images from the generator (seeded), so there is no fixed training set to
overfit, and any iteration's batch can be regenerated from (seed, iteration).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass

import torch
from torch.utils.data import DataLoader, Dataset

from ..data.synthetic import CLASSES, TRAIN, VAL, SyntheticSpec, masks_to_boxes, sample
from .architectures import LIGHT_ARCH, build_model
from .checkpoint import load_state_dict_strict, read_checkpoint, save_checkpoint


@dataclass
class TrainConfig:
    arch: str = LIGHT_ARCH
    iterations: int = 3000
    batch_size: int = 4
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 300
    seed: int = 0
    threads: int = 2
    checkpoint_every: int = 250
    init: str | None = None  # start from these weights (a checkpoint of the same arch) instead of scratch
    first_image: int = 0  # index of the first training image: a continued run draws images not seen before
    stop_after: int | None = None  # end early (the schedule still spans `iterations`), for staged runs


class SyntheticTrainSet(Dataset):
    """Image i of the training split as torchvision's (image float [3,H,W], target) pair."""

    def __init__(self, spec: SyntheticSpec = TRAIN, first: int = 0):
        self.spec, self.first = spec, first

    def __len__(self):
        return 10**9

    def __getitem__(self, index):
        image, masks, labels = sample(self.spec, self.first + index)
        target = {
            "boxes": torch.from_numpy(masks_to_boxes(masks)).reshape(-1, 4),
            "labels": torch.from_numpy(labels),
            "masks": torch.from_numpy(masks),
        }
        return torch.from_numpy(image).permute(2, 0, 1).float() / 255, target


def _lr_factor(it: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to zero."""
    if it < cfg.warmup:
        return (it + 1) / cfg.warmup
    return 0.5 * (1 + math.cos(math.pi * (it - cfg.warmup) / max(1, cfg.iterations - cfg.warmup)))


def train(cfg: TrainConfig, out_dir: str) -> str:
    """Train from scratch; writes checkpoints and `train_log.jsonl` to out_dir. Returns the final checkpoint."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    os.makedirs(out_dir, exist_ok=True)
    # Train-time sizes: no resizing of the (smaller) training images, fewer sampled RoIs per image.
    model = build_model(cfg.arch, num_classes=len(CLASSES) + 1, min_size=TRAIN.height, max_size=TRAIN.width,
                        box_batch_size_per_image=128, rpn_post_nms_top_n_train=500).train()
    if cfg.init:
        load_state_dict_strict(model, read_checkpoint(cfg.init, cfg.arch).state_dict, cfg.init)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: _lr_factor(it, cfg))
    loader = DataLoader(SyntheticTrainSet(first=cfg.first_image), batch_size=cfg.batch_size, shuffle=False, num_workers=1,
                        collate_fn=lambda batch: tuple(zip(*batch)), persistent_workers=True, prefetch_factor=4)
    log = open(os.path.join(out_dir, "train_log.jsonl"), "a")
    start = time.time()
    for it, (images, targets) in enumerate(loader):
        if it >= (cfg.stop_after or cfg.iterations):
            break
        losses = model(list(images), list(targets))
        loss = sum(losses.values())
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        optimizer.step()
        scheduler.step()
        if it % 20 == 0:
            row = {"it": it, "loss": loss.item(), "lr": scheduler.get_last_lr()[0], "min": (time.time() - start) / 60,
                   **{k: round(float(v), 4) for k, v in losses.items()}}
            log.write(json.dumps(row) + "\n")
            log.flush()
        if (it + 1) % cfg.checkpoint_every == 0 or it + 1 == (cfg.stop_after or cfg.iterations):
            _save(model, cfg, out_dir, it + 1, time.time() - start)
    return os.path.join(out_dir, "last.pth")


def _save(model, cfg: TrainConfig, out_dir: str, iteration: int, seconds: float) -> None:
    model.eval()
    save_checkpoint(os.path.join(out_dir, "last.pth"), model, arch=cfg.arch, classes=CLASSES,
                    input_size=(VAL.height, VAL.width),
                    extra={"train": {**asdict(cfg), "iterations_done": iteration, "seconds": round(seconds)}})
    model.train()
