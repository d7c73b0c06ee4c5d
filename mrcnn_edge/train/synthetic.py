"""Train an architecture on a synthetic set on the CPU: how the shipped models are made (the shapes set
for the mask model, the figures set for the keypoint model).

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

from ..data import figures
from ..data.synthetic import CLASSES, TRAIN, VAL, SyntheticSpec, masks_to_boxes, sample
from ..model.architectures import LIGHT_ARCH, LIGHT_KEYPOINT_ARCH, build_model
from ..errors import UserError
from ..model.checkpoint import load_state_dict_strict, read_checkpoint, save_checkpoint


@dataclass
class TrainConfig:
    task: str = "masks"  # "masks": the shapes set; "keypoints": the figures set
    arch: str | None = None  # None: the task's light architecture
    iterations: int = 3000
    batch_size: int = 4
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 300
    seed: int = 0
    threads: int = 2
    checkpoint_every: int = 250
    init: str | None = None  # start from these weights (a checkpoint of the same arch) instead of scratch
    init_backbone: str | None = None  # start backbone, RPN and box head from another light model's checkpoint
    first_image: int = 0  # index of the first training image: a continued run draws images not seen before
    stop_after: int | None = None  # end early (the schedule still spans `iterations`), for staged runs
    resume: bool = False  # continue the run in out_dir where its last checkpoint left it (same schedule)


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


class FigureTrainSet(Dataset):
    """Image i of the figures training split as torchvision's Keypoint R-CNN (image, target) pair."""

    def __init__(self, spec: figures.FigureSpec = figures.TRAIN, first: int = 0):
        self.spec, self.first = spec, first

    def __len__(self):
        return 10**9

    def __getitem__(self, index):
        image, masks, keypoints = figures.sample(self.spec, self.first + index)
        target = {
            "boxes": torch.from_numpy(masks_to_boxes(masks)).reshape(-1, 4),
            "labels": torch.ones(len(masks), dtype=torch.int64),
            "keypoints": torch.from_numpy(keypoints).reshape(-1, figures.LAYOUT.num_keypoints, 3),
        }
        return torch.from_numpy(image).permute(2, 0, 1).float() / 255, target


@dataclass(frozen=True)
class Task:
    arch: str
    classes: tuple[str, ...]
    train_set: type
    train_size: int  # the training split's square side
    val_size: tuple[int, int]
    keypoint_layout: dict | None = None


TASKS = {
    "masks": Task(LIGHT_ARCH, CLASSES, SyntheticTrainSet, TRAIN.height, (VAL.height, VAL.width)),
    "keypoints": Task(LIGHT_KEYPOINT_ARCH, figures.CLASSES, FigureTrainSet, figures.TRAIN.height,
                      (figures.VAL.height, figures.VAL.width), figures.LAYOUT.to_json()),
}
# What a model of another light task shares with this one: trunk, FPN, RPN and the box head's MLP.
_SHARED = ("backbone.", "rpn.", "roi_heads.box_head.")


def _init_shared(model, path: str) -> None:
    """Copy the shared parts' weights from another light model's checkpoint (the paper trains keypoints
    on a detector's backbone too); the task's own heads start from scratch."""
    state = read_checkpoint(path).state_dict
    own = model.state_dict()
    shared = {k: v for k, v in state.items() if k.startswith(_SHARED) and k in own and own[k].shape == v.shape}
    if not shared:
        raise UserError(f"{path} shares no backbone weights with {type(model).__name__}: pass a light model's checkpoint")
    model.load_state_dict(shared, strict=False)


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
    task = TASKS[cfg.task]
    cfg.arch = cfg.arch or task.arch
    # Train-time sizes: no resizing of the (smaller) training images, fewer sampled RoIs per image.
    model = build_model(cfg.arch, num_classes=len(task.classes) + 1, min_size=task.train_size,
                        max_size=task.train_size, box_batch_size_per_image=128, rpn_post_nms_top_n_train=500).train()
    if cfg.init:
        load_state_dict_strict(model, read_checkpoint(cfg.init, cfg.arch).state_dict, cfg.init)
    elif cfg.init_backbone:
        _init_shared(model, cfg.init_backbone)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: _lr_factor(it, cfg))
    done = _resume(model, optimizer, scheduler, cfg, out_dir) if cfg.resume else 0
    # iteration `it` always draws images first_image + it * batch_size: a resumed run sees what the
    # uninterrupted one would have
    loader = DataLoader(task.train_set(first=cfg.first_image + done * cfg.batch_size), batch_size=cfg.batch_size,
                        shuffle=False, num_workers=1, collate_fn=lambda batch: tuple(zip(*batch)),
                        persistent_workers=True, prefetch_factor=4)
    log = open(os.path.join(out_dir, "train_log.jsonl"), "a")
    start = time.time()
    for it, (images, targets) in enumerate(loader, start=done):
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
            _save(model, cfg, task, out_dir, it + 1, time.time() - start)
            _atomic_save({"iteration": it + 1, "optimizer": optimizer.state_dict(),
                          "scheduler": scheduler.state_dict()}, os.path.join(out_dir, RESUME_FILE))
    return os.path.join(out_dir, "last.pth")


RESUME_FILE = "resume.pth"  # optimizer and schedule beside last.pth, written at every checkpoint


def _atomic_save(obj, path: str) -> None:
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)  # a run killed mid-save keeps the previous state whole


def _resume(model, optimizer, scheduler, cfg: TrainConfig, out_dir: str) -> int:
    """Load last.pth and the optimizer/schedule state of an interrupted run. Returns the iterations done."""
    state_path, weights = os.path.join(out_dir, RESUME_FILE), os.path.join(out_dir, "last.pth")
    if not (os.path.isfile(state_path) and os.path.isfile(weights)):
        raise UserError(f"nothing to resume in {out_dir} (no {RESUME_FILE} and last.pth): run without --resume first")
    load_state_dict_strict(model, read_checkpoint(weights, cfg.arch).state_dict, weights)
    state = torch.load(state_path, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return int(state["iteration"])


def _save(model, cfg: TrainConfig, task: Task, out_dir: str, iteration: int, seconds: float) -> None:
    model.eval()
    save_checkpoint(os.path.join(out_dir, "last.pth"), model, arch=cfg.arch, classes=task.classes,
                    input_size=task.val_size, keypoint_layout=task.keypoint_layout,
                    extra={"train": {**asdict(cfg), "iterations_done": iteration, "seconds": round(seconds)}})
    model.train()
