"""COCO-format instances JSON for the synthetic set, readable by pycocotools."""
from __future__ import annotations

import json
import os

import cv2
import numpy as np
from pycocotools import mask as mask_utils
from tqdm import tqdm

from .synthetic import CLASSES, SyntheticSpec, masks_to_boxes, sample


def encode_rle(mask: np.ndarray, rect: tuple[int, int, int, int] | None = None) -> dict:
    """COCO compressed RLE of a binary [H,W] mask, JSON-ready.

    rect (x, y, w, h), a rectangle that holds every set pixel, lets it read only the columns it spans
    (COCO RLE runs down columns): the columns either side are one run of zeros each.
    """
    H, W = mask.shape
    x0, x1 = (rect[0], rect[0] + rect[2]) if rect is not None else (0, W)
    column_major = mask[:, x0:x1].T.ravel()
    edges = np.flatnonzero(column_major[1:] != column_major[:-1]) + 1
    runs = np.diff(np.concatenate([[0], edges, [column_major.size]])).tolist()
    if column_major.size and column_major[0]:
        runs.insert(0, 0)  # counts start with a run of zeros
    runs = runs or [0]
    runs[0] += x0 * H
    if len(runs) % 2:  # ends on zeros
        runs[-1] += (W - x1) * H
    elif x1 < W:
        runs.append((W - x1) * H)
    rle = mask_utils.frPyObjects({"counts": runs, "size": [H, W]}, H, W)
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def categories() -> list[dict]:
    return [{"id": i + 1, "name": name, "supercategory": "shape"} for i, name in enumerate(CLASSES)]


def annotations_of(image_id: int, masks: np.ndarray, labels: np.ndarray, first_id: int) -> list[dict]:
    anns = []
    for k, (mask, box, label) in enumerate(zip(masks, masks_to_boxes(masks), labels)):
        x1, y1, x2, y2 = (float(v) for v in box)
        anns.append({
            "id": first_id + k, "image_id": image_id, "category_id": int(label),
            "segmentation": encode_rle(mask), "area": float(mask.sum()),
            "bbox": [x1, y1, x2 - x1, y2 - y1], "iscrowd": 0,
        })
    return anns


def synthetic_coco(spec: SyntheticSpec, num_images: int, image_dir: str | None = None) -> dict:
    """The first `num_images` of a split as a COCO dict; images are written to `image_dir` if given."""
    if image_dir:
        os.makedirs(image_dir, exist_ok=True)
    coco = {"images": [], "annotations": [], "categories": categories()}
    for i in tqdm(range(num_images), desc="synthetic images", unit="img", leave=False, disable=num_images < 50):
        image, masks, labels = sample(spec, i)
        name = f"{i:06d}.png"
        if image_dir:
            cv2.imwrite(os.path.join(image_dir, name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        coco["images"].append({"id": i, "file_name": name, "height": spec.height, "width": spec.width})
        coco["annotations"] += annotations_of(i, masks, labels, len(coco["annotations"]) + 1)
    return coco


def write_synthetic_coco(spec: SyntheticSpec, num_images: int, out_dir: str) -> str:
    """Write `out_dir/images/*.png` and `out_dir/instances.json`; returns the JSON's path."""
    coco = synthetic_coco(spec, num_images, os.path.join(out_dir, "images"))
    path = os.path.join(out_dir, "instances.json")
    with open(path, "w") as f:
        json.dump(coco, f)
    return path
