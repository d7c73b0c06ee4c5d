"""`mrcnn-edge eval`: COCO AP of a model artifact on the synthetic val set."""
from __future__ import annotations

import json
from dataclasses import asdict

from ..data.synthetic import VAL
from .coco_eval import APResult, evaluate_synthetic


def evaluate_checkpoint(path: str | None, num_images: int) -> APResult:
    """AP of a checkpoint in torchvision eager (the oracle), at its own input size."""
    from ..model.checkpoint import load_model
    from ..model.eager import EagerPredictor
    from ..model.zoo import default_checkpoint

    model, _ = load_model(path or default_checkpoint())
    return evaluate_synthetic(EagerPredictor(model), VAL, num_images, desc="eval eager")


def evaluate_cli(path: str | None, num_images: int, out_json: str | None = None) -> str:
    result = evaluate_checkpoint(path, num_images)
    if out_json:
        with open(out_json, "w") as f:
            json.dump(asdict(result), f, indent=2)
    return (f"{result.num_images} synthetic val images: box AP {result.box_ap:.3f} (AP50 {result.box_ap50:.3f}, "
            f"AP75 {result.box_ap75:.3f}) | mask AP {result.mask_ap:.3f} (AP50 {result.mask_ap50:.3f}, "
            f"AP75 {result.mask_ap75:.3f})")
