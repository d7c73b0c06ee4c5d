"""COCO box and mask AP with pycocotools, for any predictor that maps an RGB frame to detections."""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from tqdm import tqdm

from ..data.coco import encode_rle, synthetic_coco
from ..data.synthetic import SyntheticSpec, sample

# (boxes [N,4] x1y1x2y2, scores [N], classes [N] 1-based, masks [N,H,W] bool) for one RGB uint8 frame
PredictFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class APResult:
    box_ap: float
    box_ap50: float
    box_ap75: float
    mask_ap: float
    mask_ap50: float
    mask_ap75: float
    num_images: int


def results_of(image_id: int, boxes, scores, classes, masks) -> list[dict]:
    """One image's detections as COCO results rows (bbox as x,y,w,h; masks as RLE)."""
    rows = []
    for box, score, cls, mask in zip(boxes, scores, classes, masks):
        x1, y1, x2, y2 = (float(v) for v in box)
        rows.append({"image_id": image_id, "category_id": int(cls), "score": float(score),
                     "bbox": [x1, y1, x2 - x1, y2 - y1], "segmentation": encode_rle(mask)})
    return rows


def _summarise(gt: COCO, rows: list[dict], iou_type: str) -> np.ndarray:
    if not rows:
        return np.zeros(12)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its whole table
        evaluator = COCOeval(gt, gt.loadRes(rows), iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


def coco_ap(gt_dict: dict, rows: list[dict]) -> APResult:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = gt_dict
        gt.createIndex()
    box = _summarise(gt, [dict(r, segmentation=None) for r in rows], "bbox")
    seg = _summarise(gt, rows, "segm")
    return APResult(*(float(v) for v in (box[0], box[1], box[2], seg[0], seg[1], seg[2])), len(gt_dict["images"]))


def evaluate_synthetic(predict: PredictFn, spec: SyntheticSpec, num_images: int, desc: str = "eval") -> APResult:
    """AP of `predict` on the first `num_images` of a synthetic split (ground truth regenerated from seeds)."""
    gt = synthetic_coco(spec, num_images)
    rows = []
    for i in tqdm(range(num_images), desc=desc, unit="img"):
        rows += results_of(i, *predict(sample(spec, i)[0]))
    return coco_ap(gt, rows)
