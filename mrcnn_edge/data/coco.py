"""COCO-format JSON for the synthetic sets, readable by pycocotools: instances for the shapes, person
keypoints for the figures (with the set's skeleton and its OKS sigmas in the category)."""
from __future__ import annotations

import json
import os

import cv2
import numpy as np
from tqdm import tqdm

from ..rle import encode_rle
from . import figures
from .synthetic import CLASSES, SyntheticSpec, masks_to_boxes, sample


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


def figure_categories() -> list[dict]:
    """COCO's person-keypoint category for the figures: joint names, 1-based skeleton and, as no COCO file
    carries them, the set's OKS sigmas (`eval` reads them from here)."""
    layout = figures.LAYOUT
    return [{"id": 1, "name": figures.CLASSES[0], "supercategory": "person", "keypoints": list(layout.names),
             "skeleton": layout.coco_skeleton(), "sigmas": list(layout.sigmas)}]


def figure_annotations_of(image_id: int, masks: np.ndarray, keypoints: np.ndarray, first_id: int) -> list[dict]:
    """As COCO's person_keypoints: the visible mask, its box and area, keypoints flat x, y, v and their count."""
    anns = annotations_of(image_id, masks, np.ones(len(masks), np.int64), first_id)
    for ann, points in zip(anns, keypoints):
        ann["keypoints"] = [round(float(v), 2) for v in points.reshape(-1)]
        ann["num_keypoints"] = int((points[:, 2] > 0).sum())
    return anns


def sampler(spec: SyntheticSpec | figures.FigureSpec):
    """The `sample(spec, index)` of a split's set: the shapes' or the figures'."""
    return figures.sample if isinstance(spec, figures.FigureSpec) else sample


def synthetic_coco(spec: SyntheticSpec | figures.FigureSpec, num_images: int, image_dir: str | None = None) -> dict:
    """The first `num_images` of a split (shapes or figures) as a COCO dict; images are written to
    `image_dir` if given."""
    if image_dir:
        os.makedirs(image_dir, exist_ok=True)
    is_figures = isinstance(spec, figures.FigureSpec)
    coco = {"images": [], "annotations": [], "categories": figure_categories() if is_figures else categories()}
    for i in tqdm(range(num_images), desc="synthetic images", unit="img", leave=False, disable=num_images < 50):
        image, masks, labels = sampler(spec)(spec, i)
        name = f"{i:06d}.png"
        if image_dir:
            cv2.imwrite(os.path.join(image_dir, name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        coco["images"].append({"id": i, "file_name": name, "height": spec.height, "width": spec.width})
        annotate = figure_annotations_of if is_figures else annotations_of
        coco["annotations"] += annotate(i, masks, labels, len(coco["annotations"]) + 1)
    return coco


def annotations_file(spec) -> str:
    """The JSON's name, as COCO names its files: instances or person_keypoints."""
    return "person_keypoints.json" if isinstance(spec, figures.FigureSpec) else "instances.json"


def write_synthetic_coco(spec: SyntheticSpec | figures.FigureSpec, num_images: int, out_dir: str) -> str:
    """Write `out_dir/images/*.png` and `out_dir/<annotations_file>`; returns the JSON's path."""
    coco = synthetic_coco(spec, num_images, os.path.join(out_dir, "images"))
    path = os.path.join(out_dir, annotations_file(spec))
    with open(path, "w") as f:
        json.dump(coco, f)
    return path
