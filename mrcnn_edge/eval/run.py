"""`mrcnn-edge eval`: COCO box and mask AP of model artifacts on the synthetic val set, side by side.

The first artifact is the reference (normally the PyTorch checkpoint in torchvision eager); every
other row states its AP and the difference from it (ΔAP, in AP points x100 as COCO tables do).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict

from ..data.synthetic import VAL
from .coco_eval import APResult, PredictFn, evaluate_synthetic


def predictor_for(path: str | None, backend: str = "auto") -> tuple[str, PredictFn]:
    """(label, predict function) for a checkpoint (.pth: torchvision eager) or a deploy artifact."""
    from ..model.zoo import default_checkpoint

    path = path or default_checkpoint()
    if path.endswith((".pth", ".pt")):
        from ..model.checkpoint import load_model
        from ..model.eager import EagerPredictor

        model, _ = load_model(path)
        return "pytorch eager", EagerPredictor(model)
    from ..runtime.predictor import Predictor

    predictor = Predictor.from_path(path, backend=backend)

    def predict(frame):
        d = predictor(frame)
        return d.boxes, d.scores, d.classes, d.masks

    return f"{predictor.backend_name} {predictor.precision}", predict


def evaluate_artifacts(paths: list[str | None], num_images: int,
                       backend: str = "auto") -> list[tuple[str, str, APResult]]:
    rows = []
    for path in paths:
        label, predict = predictor_for(path, backend)
        rows.append((label, path or "shipped checkpoint", evaluate_synthetic(predict, VAL, num_images, desc=label)))
    return rows


def format_table(rows: list[tuple[str, str, APResult]]) -> str:
    ref = rows[0][2]
    lines = ["| model | artifact | box AP | AP50 | AP75 | ΔAP box | mask AP | AP50 | AP75 | ΔAP mask |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for label, path, r in rows:
        lines.append(f"| {label} | {os.path.basename(path)} | {100 * r.box_ap:.1f} | {100 * r.box_ap50:.1f} | "
                     f"{100 * r.box_ap75:.1f} | {100 * (r.box_ap - ref.box_ap):+.1f} | {100 * r.mask_ap:.1f} | "
                     f"{100 * r.mask_ap50:.1f} | {100 * r.mask_ap75:.1f} | {100 * (r.mask_ap - ref.mask_ap):+.1f} |")
    return "\n".join(lines)


def evaluate_cli(paths: list[str] | None, num_images: int, out_json: str | None = None, backend: str = "auto") -> str:
    """AP of each artifact (default: the shipped checkpoint) on `num_images` synthetic val images."""
    rows = evaluate_artifacts(paths or [None], num_images, backend)
    if out_json:
        with open(out_json, "w") as f:
            json.dump([{"model": label, "artifact": path, **asdict(r)} for label, path, r in rows], f, indent=2)
    return f"{rows[0][2].num_images} synthetic val images (AP x100; ΔAP against the first row)\n" + format_table(rows)
