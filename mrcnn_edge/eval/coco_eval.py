"""COCO box and mask AP with faster-coco-eval where it is installed, else pycocotools (the same numbers:
faster-coco-eval is a C++ port of pycocotools' evaluation, checked against it in tests/eval)."""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
from tqdm import tqdm

from ..data.coco import encode_rle
from ..errors import UserError

# (boxes [N,4] x1y1x2y2, scores [N], classes [N] 1-based, masks [N,H,W] bool) for one RGB uint8 frame
PredictFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
EVALUATORS = ("faster-coco-eval", "pycocotools")


@dataclass
class APResult:
    box_ap: float
    box_ap50: float
    box_ap75: float
    mask_ap: float
    mask_ap50: float
    mask_ap75: float
    num_images: int


def results_of(image_id: int, boxes, scores, classes, masks, to_dataset: dict[int, int] | None = None) -> list[dict]:
    """One image's detections as COCO results rows (bbox as x,y,w,h; masks as RLE). to_dataset maps
    model class ids to dataset category ids; a class it lacks is dropped."""
    rows = []
    for box, score, cls, mask in zip(boxes, scores, classes, masks):
        category = int(cls) if to_dataset is None else to_dataset.get(int(cls))
        if category is None:
            continue
        x1, y1, x2, y2 = (float(v) for v in box)
        rows.append({"image_id": image_id, "category_id": category, "score": float(score),
                     "bbox": [x1, y1, x2 - x1, y2 - y1], "segmentation": encode_rle(mask)})
    return rows


def evaluator_name(name: str | None = None) -> str:
    """The evaluator used: `name` if given, else faster-coco-eval where installed, else pycocotools."""
    if name is not None:
        if name not in EVALUATORS:
            raise UserError(f"unknown evaluator '{name}': choose {', '.join(EVALUATORS)}")
        return name
    try:
        import faster_coco_eval  # noqa: F401
        return "faster-coco-eval"
    except ImportError:
        return "pycocotools"


def _classes(name: str):
    if name == "faster-coco-eval":
        try:
            from faster_coco_eval import COCO, COCOeval_faster
        except ImportError:
            raise UserError("faster-coco-eval is not installed: pip install faster-coco-eval, "
                            "or use pycocotools") from None
        return COCO, COCOeval_faster
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    return COCO, COCOeval


def _summarise(COCOeval, gt, rows: list[dict], iou_type: str, image_ids, category_ids) -> np.ndarray:
    if not rows:
        return np.zeros(12)
    evaluator = COCOeval(gt, gt.loadRes(rows), iou_type)
    if image_ids is not None:
        evaluator.params.imgIds = list(image_ids)
    if category_ids is not None:
        evaluator.params.catIds = list(category_ids)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return np.asarray(evaluator.stats)


def coco_ap(gt_dict: dict, rows: list[dict], image_ids=None, category_ids=None, evaluator: str | None = None) -> APResult:
    """Box and mask AP of results `rows` against ground truth `gt_dict`, over image_ids and category_ids
    (default: all of the ground truth's)."""
    COCO, COCOeval = _classes(evaluator_name(evaluator))
    with contextlib.redirect_stdout(io.StringIO()):  # both evaluators print their whole table
        gt = COCO()
        gt.dataset = gt_dict
        gt.createIndex()
        box = _summarise(COCOeval, gt, [dict(r, segmentation=None) for r in rows], "bbox", image_ids, category_ids)
        seg = _summarise(COCOeval, gt, rows, "segm", image_ids, category_ids)
    num_images = len(image_ids) if image_ids is not None else len(gt_dict["images"])
    # COCO's -1 marks "no ground truth to score against"; as AP it is 0
    values = [max(float(v), 0.0) for v in (box[0], box[1], box[2], seg[0], seg[1], seg[2])]
    return APResult(*values, num_images)


def evaluate_synthetic(predict: PredictFn, spec, num_images: int, desc: str = "eval") -> APResult:
    """AP of `predict` on the first `num_images` of a synthetic split, in memory (ground truth regenerated
    from seeds); `mrcnn-edge eval` reads the same images from disk as any COCO set."""
    from ..data.coco import synthetic_coco
    from ..data.synthetic import sample

    gt = synthetic_coco(spec, num_images)
    rows = []
    for i in tqdm(range(num_images), desc=desc, unit="img"):
        rows += results_of(i, *predict(sample(spec, i)[0]))
    return coco_ap(gt, rows)
