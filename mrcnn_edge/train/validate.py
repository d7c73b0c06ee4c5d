"""Val AP during training with `eval`'s own code: each val image letterboxed to the model's input as at deploy,
the model run in torchvision eager, COCO AP by faster-coco-eval (else pycocotools), classes matched by name."""
from __future__ import annotations

from dataclasses import asdict

from ..eval.coco_eval import APResult
from ..eval.dataset import CocoDataset, load_dataset
from ..eval.run import Loaded, evaluate_dataset
from ..keypoint_layout import KeypointLayout
from ..model.eager import EagerPredictor


def load_val(annotations: str | None, images: str | None) -> CocoDataset | None:
    return load_dataset(annotations, images) if annotations else None


def val_ap(model, dataset: CocoDataset, size: tuple[int, int], classes: list[str],
           keypoint_layout: KeypointLayout | None, label: str) -> APResult:
    """AP of the model (left in eval mode) on the whole val set."""
    loaded = Loaded(label, EagerPredictor(model, input_size=size), classes, size, keypoint_layout)
    return evaluate_dataset([label], dataset, predictors=[loaded]).rows[0][2]


def ap_fields(ap: APResult) -> dict:
    """The APs of the tasks the model has, as metrics.csv's columns name them."""
    return {k: v for k, v in asdict(ap).items() if k.endswith(("_ap", "_ap50")) and v is not None}


def best_key(keypoint_layout: KeypointLayout | None) -> str:
    """What best.pth is chosen by: keypoint AP for a keypoint model, else mask AP."""
    return "keypoint_ap" if keypoint_layout is not None else "mask_ap"
