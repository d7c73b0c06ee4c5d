"""`mrcnn-edge train --data`: train a Mask R-CNN (or Keypoint R-CNN) on a COCO-format set, on one CPU, one GPU,
or many processes under torchrun (DistributedDataParallel), and write checkpoints every later stage takes with
no other flag (the architecture, class names, input size and keypoint layout travel inside).

The run folder: last.pth (every --checkpoint-every iterations and at the end), best.pth (by val mask AP, keypoint
AP for keypoint models), resume.pth (optimizer, schedule, AMP scaler, RNG and the data position), metrics.csv,
curves.png, data_report.json and, asked for, tensorboard/.
"""
from __future__ import annotations

import json
import os
import random
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..errors import UserError
from ..eval.coco_eval import APResult
from ..eval.run import format_table
from ..model.architectures import ARCHITECTURES, MOBILENET_FPN_ARCH, build_model
from ..model.checkpoint import save_checkpoint
from . import distributed
from .batches import StepBatches, item_seed
from .coco import CocoTrainSet
from .norm import freeze_trunk_norm, train_mode, trunk_norm
from .config import DEFAULT_EPOCHS, CocoTrainConfig
from .record import LOSS_TERMS, Record
from .schedule import make_optimizer, make_scheduler
from .starts import start_from
from .validate import ap_fields, best_key, load_val, val_ap

LAST, BEST, RESUME, DATA_REPORT = "last.pth", "best.pth", "resume.pth", "data_report.json"
# Train-time sizes of the light architectures on a CPU budget (as the shipped models were trained): half the
# sampled RoIs and proposals of torchvision's defaults. The ResNet-50 models keep torchvision's.
LIGHT_TRAIN_SETTINGS = {"box_batch_size_per_image": 256, "rpn_post_nms_top_n_train": 1000}


@dataclass
class TrainResult:
    out: str
    last: str
    best: str | None
    iterations: int
    seconds: float
    processes: int
    data_lines: list[str]
    evaluations: list[tuple[str, str, APResult]] = field(default_factory=list)
    next_command: str = ""

    def summary(self) -> str:
        lines = [f"trained {self.iterations} iterations in {self.seconds / 60:.1f} min on {self.processes} "
                 f"process{'es' if self.processes > 1 else ''}: {self.last}" + (f", {self.best}" if self.best else "")]
        lines += self.data_lines
        if self.evaluations:
            lines += ["val AP (x100; ΔAP against the first row):", format_table(self.evaluations)]
        else:
            lines.append("no val set: best.pth is not written (pass --val-data and --val-images)")
        lines += [f"curves: {os.path.join(self.out, 'curves.png')}, metrics: {os.path.join(self.out, 'metrics.csv')}",
                  f"next: {self.next_command}"]
        return "\n".join(lines)


def train_coco(cfg: CocoTrainConfig) -> TrainResult:
    """Train on a COCO-format set (`mrcnn-edge train --data`): one process, or every rank under torchrun.

    Writes cfg.out: last.pth, best.pth (by val AP, where cfg.val_data is given), resume.pth, metrics.csv,
    curves.png and the data report; only rank 0 writes. Bad rows are skipped and counted (cfg.strict: refused).
    Returns the run's summary: its files, the best val AP and the next `build` command.
    """
    cfg.check()
    processes = distributed.start(cfg.device)
    try:
        return _train(cfg, processes)
    finally:
        distributed.stop()


def _train(cfg: CocoTrainConfig, processes: distributed.Processes) -> TrainResult:
    main = processes.is_main
    _check_out(cfg)
    keypoints = "keypoint" in ARCHITECTURES[cfg.arch].heads
    data = CocoTrainSet(cfg.data, cfg.images, cfg.size, augment=cfg.augment, keypoints=keypoints, strict=cfg.strict)
    val = load_val(cfg.val_data, cfg.val_images) if main else None
    model = _model(cfg, data, main).to(processes.device)
    frozen_norm = _trunk_norm(cfg) == "frozen"
    if frozen_norm:
        layers = freeze_trunk_norm(model)
        if main:
            print(f"trunk norm: frozen ({layers} BatchNorm layers keep their statistics and scale; --norm batch trains them)")
    global_batch = cfg.batch * cfg.accumulate * processes.world
    steps_per_epoch = StepBatches(len(data), batch=cfg.batch, accumulate=cfg.accumulate, rank=0,
                                  world=processes.world, seed=cfg.seed, start=0, stop=0).steps_per_epoch
    iterations = cfg.iterations or (cfg.epochs or DEFAULT_EPOCHS) * steps_per_epoch
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(params, cfg, global_batch)
    scheduler = make_scheduler(optimizer, cfg, iterations)
    cuda = processes.device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)  # AMP on CUDA: fp16 autocast, scaled gradients
    done, best = 0, None
    if cfg.resume:
        done, best = _resume(cfg, model, optimizer, scheduler, scaler, _signature(cfg, processes, iterations))
    if main:
        os.makedirs(cfg.out, exist_ok=True)
        with open(os.path.join(cfg.out, DATA_REPORT), "w") as f:
            json.dump(data.report.to_json(), f, indent=2)
        for line in data.report.summary_lines():
            print(line)
    record = Record(cfg.out, resume_at=done, tensorboard=cfg.tensorboard) if main else None
    net = DistributedDataParallel(model, device_ids=[processes.device.index] if cuda else None,
                                  find_unused_parameters=True) if processes.world > 1 else model
    batches = StepBatches(len(data), batch=cfg.batch, accumulate=cfg.accumulate, rank=processes.rank,
                          world=processes.world, seed=cfg.seed, start=done, stop=iterations)
    loader = iter(DataLoader(data, batch_sampler=batches, num_workers=cfg.workers, collate_fn=_collate,
                             prefetch_factor=4 if cfg.workers else None))
    eval_every = cfg.eval_every or steps_per_epoch
    bar = tqdm(total=iterations, initial=done, desc="train", unit="it", disable=not main, dynamic_ncols=True)
    start, timer, evaluations = time.time(), time.time(), []
    signature = _signature(cfg, processes, iterations)
    train_mode(model, frozen_norm)
    for it in range(done, iterations):
        terms = _step(net, loader, optimizer, scaler, params, cfg, processes, it, cuda)
        scheduler.step()
        lr = optimizer.param_groups[0]["lr"]
        if main:
            bar.update(1)
            bar.set_postfix(loss=f"{terms['loss']:.3f}", **{k.replace("loss_", ""): f"{v:.3f}" for k, v in terms.items()
                                                            if k != "loss"}, lr=f"{lr:.2g}")
        finished = it + 1 == iterations
        if main and ((it + 1) % cfg.log_every == 0 or finished or it == done):
            speed = global_batch * (it + 1 - done) / max(time.time() - timer, 1e-9)
            record.add("train", {"iteration": it + 1, "epoch": it // steps_per_epoch, "lr": lr,
                                 "seconds": time.time() - start, "images_per_s": speed, **terms})
        if main and ((it + 1) % cfg.checkpoint_every == 0 or finished):
            _save(cfg, model, data, it + 1, time.time() - start, LAST, processes)
            _save_resume(cfg, model, optimizer, scheduler, scaler, it + 1, best, signature)
        if main and val is not None and ((it + 1) % eval_every == 0 or finished):
            ap = val_ap(model, val, cfg.size, data.classes, data.keypoint_layout, f"iteration {it + 1}")
            train_mode(model, frozen_norm)
            record.add("val", {"iteration": it + 1, "epoch": it // steps_per_epoch, **ap_fields(ap)})
            score = getattr(ap, best_key(data.keypoint_layout))
            if best is None or score > best[0]:
                best = (score, it + 1)
                _save(cfg, model, data, it + 1, time.time() - start, BEST, processes, ap)
            evaluations.append(ap)
            record.plot()
    bar.close()
    if not main:
        return TrainResult(cfg.out, os.path.join(cfg.out, LAST), None, iterations, time.time() - start,
                           processes.world, [])
    record.plot()
    record.close()
    return _result(cfg, iterations, time.time() - start, processes, data, evaluations, best)


def _step(net, loader, optimizer, scaler, params, cfg, processes, it: int, cuda: bool) -> dict[str, float]:
    """One optimizer step over `accumulate` micro-batches; returns the loss terms, averaged over the step's
    micro-batches and processes."""
    optimizer.zero_grad(set_to_none=True)
    sums: dict[str, torch.Tensor] = {}
    for a in range(cfg.accumulate):
        images, targets = next(loader)
        images = [i.to(processes.device, non_blocking=True) for i in images]
        targets = [{k: v.to(processes.device, non_blocking=True) for k, v in t.items()} for t in targets]
        # torchvision samples anchors and RoIs with torch's global generator: seeded per micro-batch, so a
        # resumed run and a run on more processes draw what the plain run draws
        torch.manual_seed(item_seed(cfg.seed, it, processes.rank * cfg.accumulate + a))
        last = a == cfg.accumulate - 1
        sync = nullcontext() if last or processes.world == 1 else net.no_sync()
        with sync:
            with torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
                losses = net(images, targets)
                loss = sum(losses.values()) / cfg.accumulate
            scaler.scale(loss).backward()
        for k, v in {"loss": loss * cfg.accumulate, **losses}.items():
            sums[k] = sums.get(k, 0) + v.detach().float().cpu() / cfg.accumulate
    names = ["loss"] + [k for k in LOSS_TERMS if k in sums]
    means = distributed.mean_over_processes(torch.stack([sums[k] for k in names]), processes)
    if not torch.isfinite(means).all():
        raise UserError(f"the loss is not finite at iteration {it + 1} ({', '.join(f'{k} {v:.3g}' for k, v in zip(names, means.tolist()))}): "
                        "lower --lr (or keep --clip-grad), and check the annotations; last.pth holds the last good checkpoint")
    if cfg.clip_grad:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad)
    scaler.step(optimizer)
    scaler.update()
    return dict(zip(names, means.tolist()))


def _collate(batch):
    return tuple(zip(*batch))


def _model(cfg: CocoTrainConfig, data: CocoTrainSet, main: bool):
    """The architecture at the run's input size (frames arrive letterboxed to it, so torchvision's transform
    does not resize them) and class count, started from --init or --init-backbone."""
    settings = dict(min_size=min(cfg.size), max_size=max(cfg.size), **_build_settings(cfg, data))
    if "lite" in cfg.arch:
        settings.update(LIGHT_TRAIN_SETTINGS)
    torch.manual_seed(cfg.seed)  # the fresh tensors' init: a run is repeated exactly by its seed
    model = build_model(cfg.arch, num_classes=len(data.classes) + 1, **settings)
    start = cfg.init or cfg.init_backbone
    if start:
        report = start_from(model, start, backbone_only=bool(cfg.init_backbone), arch=cfg.arch)
        if main:
            print(report.line())
    elif main:
        print(f"start: no --init or --init-backbone: every tensor of {cfg.arch} starts from its random init")
    return model


def _build_settings(cfg: CocoTrainConfig, data: CocoTrainSet) -> dict:
    """What rebuilds the trained model beyond its class count, saved in its checkpoint (Checkpoint.build_settings)."""
    settings = {}
    if cfg.arch == MOBILENET_FPN_ARCH:  # torchvision's trunk: FrozenBatchNorm2d modules when frozen (norm.py)
        settings["norm"] = _trunk_norm(cfg)
    if data.keypoint_layout is not None:
        settings["num_keypoints"] = data.keypoint_layout.num_keypoints
    return settings


def _trunk_norm(cfg: CocoTrainConfig) -> str:
    return trunk_norm(cfg.norm, started=bool(cfg.init or cfg.init_backbone))


def _check_out(cfg: CocoTrainConfig) -> None:
    state = os.path.join(cfg.out, RESUME)
    if cfg.resume and not os.path.isfile(state):
        raise UserError(f"nothing to resume in {cfg.out} (no {RESUME}): run without --resume first")
    if not cfg.resume and os.path.isfile(state):
        raise UserError(f"{cfg.out} holds a run already ({RESUME}): pass --resume to continue it, or another --out")


def _signature(cfg: CocoTrainConfig, processes, iterations: int) -> dict:
    """What a resumed run must share with the interrupted one for its data position and schedule to mean the same."""
    return {"data": os.path.abspath(cfg.data), "arch": cfg.arch, "size": list(cfg.size), "batch": cfg.batch,
            "accumulate": cfg.accumulate, "processes": processes.world, "iterations": iterations, "seed": cfg.seed}


def _save(cfg, model, data: CocoTrainSet, iteration: int, seconds: float, name: str, processes,
          ap: APResult | None = None) -> None:
    extra = {"train": {**{k: v for k, v in asdict(cfg).items() if k not in ("resume",)}, "iterations_done": iteration,
                       "seconds": round(seconds), "processes": processes.world,
                       "data": {"skipped": len(data.report.skipped), "images": data.report.images}}}
    if ap is not None:
        extra["metrics"] = ap_fields(ap)
    save_checkpoint(os.path.join(cfg.out, name), model, arch=cfg.arch, classes=data.classes, input_size=cfg.size,
                    extra=extra, keypoint_layout=data.keypoint_layout.to_json() if data.keypoint_layout else None,
                    build_settings=_build_settings(cfg, data))


def _save_resume(cfg, model, optimizer, scheduler, scaler, iteration: int, best, signature: dict) -> None:
    """Everything a resumed run needs, in one file written whole (a kill mid-save keeps the previous one)."""
    state = {"iteration": iteration, "signature": signature, "best": list(best) if best else None,
             "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "scaler": scaler.state_dict(), "rng": _rng_state()}
    path = os.path.join(cfg.out, RESUME)
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def _rng_state() -> dict:
    np_state = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy": [int(v) for v in np_state[1]], "numpy_pos": int(np_state[2]),
            "python": list(random.getstate()[1])}


def _set_rng_state(rng: dict) -> None:
    torch.set_rng_state(rng["torch"])
    np.random.set_state(("MT19937", np.asarray(rng["numpy"], np.uint32), rng["numpy_pos"]))
    random.setstate((3, tuple(rng["python"]), None))


def _resume(cfg, model, optimizer, scheduler, scaler, signature: dict):
    path = os.path.join(cfg.out, RESUME)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a file cut short by a full disk, or not ours
        raise UserError(f"{path} cannot be read ({type(e).__name__}): start again without --resume in another --out") from None
    changed = [f"{k} {state['signature'].get(k)} -> {v}" for k, v in signature.items() if state["signature"].get(k) != v]
    if changed:
        raise UserError(f"--resume with other settings than the run in {cfg.out} ({'; '.join(changed)}): resume with "
                        "the same ones, or start a new run in another --out")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    _set_rng_state(state["rng"])
    print(f"resumed {cfg.out} at iteration {state['iteration']}")
    return int(state["iteration"]), tuple(state["best"]) if state["best"] else None


def _result(cfg, iterations, seconds, processes, data: CocoTrainSet, evaluations: list[APResult], best) -> TrainResult:
    best_path = os.path.join(cfg.out, BEST) if best else None
    rows = []
    if evaluations and best:
        best_ap = max(evaluations, key=lambda ap: getattr(ap, best_key(data.keypoint_layout)))
        rows = [(f"best (iteration {best[1]})", best_path, best_ap), (f"last (iteration {iterations})",
                                                                       os.path.join(cfg.out, LAST), evaluations[-1])]
    weights = best_path or os.path.join(cfg.out, LAST)
    calib = f" --calib-source {cfg.val_images or cfg.images}"
    next_command = f"mrcnn-edge build --weights {weights} --precision int8{calib}"
    return TrainResult(cfg.out, os.path.join(cfg.out, LAST), best_path, iterations, seconds, processes.world,
                       data.report.summary_lines(), rows, next_command)
