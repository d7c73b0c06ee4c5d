"""COCO box, mask and keypoint AP with faster-coco-eval where it is installed, else pycocotools (the same
numbers: faster-coco-eval is a C++ port of pycocotools' evaluation, checked against it in tests/eval)."""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
from tqdm import tqdm

from ..errors import UserError
from ..rle import encode_rle

# one RGB uint8 frame -> model.eager.Prediction (boxes, scores, classes, masks or None, keypoints or None, ...)
PredictFn = Callable[[np.ndarray], tuple]
EVALUATORS = ("faster-coco-eval", "pycocotools")


@dataclass
class APResult:
    """AP of each task; a task the model has no head for is None."""
    box_ap: float
    box_ap50: float
    box_ap75: float
    mask_ap: float | None
    mask_ap50: float | None
    mask_ap75: float | None
    num_images: int
    keypoint_ap: float | None = None
    keypoint_ap50: float | None = None
    keypoint_ap75: float | None = None


def results_of(image_id: int, boxes, scores, classes, masks=None, keypoints=None, keypoint_scores=None, *,
               to_dataset: dict[int, int] | None = None) -> list[dict]:
    """One image's detections as COCO results rows (bbox as x,y,w,h; masks as RLE; keypoints flat x, y, v).
    to_dataset maps model class ids to dataset category ids; a class it lacks is dropped."""
    rows = []
    for i, (box, score, cls) in enumerate(zip(boxes, scores, classes)):
        category = int(cls) if to_dataset is None else to_dataset.get(int(cls))
        if category is None:
            continue
        x1, y1, x2, y2 = (float(v) for v in box)
        row = {"image_id": image_id, "category_id": category, "score": float(score), "bbox": [x1, y1, x2 - x1, y2 - y1]}
        if masks is not None:
            row["segmentation"] = encode_rle(masks[i])
        if keypoints is not None:
            row["keypoints"] = [float(v) for v in keypoints[i].reshape(-1)]
        rows.append(row)
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


def _summarise(COCOeval, gt, rows: list[dict], iou_type: str, image_ids, category_ids, sigmas=None) -> np.ndarray:
    if not rows:
        return np.zeros(12)
    evaluator = COCOeval(gt, gt.loadRes(rows), iou_type)
    if image_ids is not None:
        evaluator.params.imgIds = list(image_ids)
    if category_ids is not None:
        evaluator.params.catIds = list(category_ids)
    if sigmas is not None:
        evaluator.params.kpt_oks_sigmas = np.asarray(sigmas, np.float64)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return np.asarray(evaluator.stats)


def coco_ap(gt_dict: dict, rows: list[dict], image_ids=None, category_ids=None, evaluator: str | None = None,
            *, keypoint_sigmas=None) -> APResult:
    """Box AP and, for the tasks the rows carry, mask AP and keypoint AP (OKS with keypoint_sigmas; None:
    COCO's 17) of results `rows` against ground truth `gt_dict`, over image_ids and category_ids (default:
    all of the ground truth's). No rows at all count as a Mask R-CNN's."""
    COCO, COCOeval = _classes(evaluator_name(evaluator))
    masks = not rows or any("segmentation" in r for r in rows)
    keypoints = any("keypoints" in r for r in rows)
    with contextlib.redirect_stdout(io.StringIO()):  # both evaluators print their whole table
        gt = COCO()
        gt.dataset = gt_dict
        gt.createIndex()
        boxes_only = [{k: v for k, v in r.items() if k not in ("segmentation", "keypoints")} for r in rows]
        box = _summarise(COCOeval, gt, boxes_only, "bbox", image_ids, category_ids)
        seg = _summarise(COCOeval, gt, rows, "segm", image_ids, category_ids) if masks else None
        kp = _summarise(COCOeval, gt, [{k: v for k, v in r.items() if k != "segmentation"} for r in rows], "keypoints", image_ids,
                        category_ids, keypoint_sigmas) if keypoints else None
    num_images = len(image_ids) if image_ids is not None else len(gt_dict["images"])

    def first3(stats):  # COCO's -1 marks "no ground truth to score against"; as AP it is 0
        return [None] * 3 if stats is None else [max(float(v), 0.0) for v in stats[:3]]

    return APResult(*first3(box), *first3(seg), num_images, *first3(kp))


def evaluate_synthetic(predict: PredictFn, spec, num_images: int, desc: str = "eval") -> APResult:
    """AP of `predict` on the first `num_images` of a synthetic split (shapes or figures), in memory (ground
    truth regenerated from seeds); `mrcnn-edge eval` reads the same images from disk as any COCO set."""
    from ..data.coco import sampler, synthetic_coco

    gt = synthetic_coco(spec, num_images)
    rows = []
    for i in tqdm(range(num_images), desc=desc, unit="img"):
        rows += results_of(i, *predict(sampler(spec)(spec, i)[0]))
    sigmas = next((c["sigmas"] for c in gt["categories"] if c.get("sigmas")), None)  # the figures' own
    return coco_ap(gt, rows, keypoint_sigmas=sigmas)
