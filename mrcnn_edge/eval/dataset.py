"""A COCO-format instance-segmentation set on disk: annotations JSON + image folder.

Any such set evaluates the same way, the synthetic val set included (written to disk on demand).
Ground truth is taken as COCO defines it (polygons, RLE, `iscrowd`, images without annotations);
fields that COCO's evaluators need and some exporters leave out (`area`, `bbox`, `iscrowd`) are filled in.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from pycocotools import mask as mask_utils

from ..errors import UserError
from ..files import write_atomic


@dataclass
class CocoDataset:
    annotations: str  # path of the instances JSON
    images_dir: str
    gt: dict  # the JSON, normalised: every annotation has area, bbox and iscrowd

    @property
    def categories(self) -> list[dict]:
        return self.gt["categories"]

    def images(self, num_images: int | None = None) -> list[dict]:
        """The first num_images image entries (all when None), in the file's order."""
        return self.gt["images"][:num_images] if num_images else list(self.gt["images"])

    def path_of(self, image: dict) -> str:
        return os.path.join(self.images_dir, image["file_name"])


def load_dataset(annotations: str, images_dir: str) -> CocoDataset:
    """Read and check an instances JSON; a UserError names what is missing or malformed."""
    if not os.path.isfile(annotations):
        raise UserError(f"annotations not found: {annotations} (pass a COCO instances JSON with --data)")
    if not os.path.isdir(images_dir):
        raise UserError(f"image folder not found: {images_dir} (pass the folder the file_name entries are in)")
    gt = read_coco_json(annotations)
    missing = [k for k in ("images", "annotations", "categories") if not isinstance(gt, dict) or k not in gt]
    if missing:
        raise UserError(f"{annotations} lacks {', '.join(missing)}: it is not a COCO instances file")
    images = {img.get("id"): img for img in gt["images"]}
    for img in gt["images"]:
        if not all(k in img for k in ("id", "file_name", "height", "width")):
            raise UserError(f"{annotations}: image entry {img} lacks id, file_name, height or width")
    for ann in gt["annotations"]:
        _normalise(ann, images, annotations)
    return CocoDataset(annotations, images_dir, gt)


def read_coco_json(path: str):
    """The parsed annotations file (eval and training read through it); a UserError when it is missing or not JSON."""
    if not os.path.isfile(path):
        raise UserError(f"annotations not found: {path} (pass a COCO instances JSON with --data)")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not valid JSON, or is truncated ({e}): pass a COCO instances file") from None


def _normalise(ann: dict, images: dict, where: str) -> None:
    if ann.get("image_id") not in images:
        raise UserError(f"{where}: annotation {ann.get('id')} refers to image {ann.get('image_id')}, which is not listed")
    if "segmentation" not in ann:
        raise UserError(f"{where}: annotation {ann.get('id')} has no segmentation: mask AP needs an "
                        "instance-segmentation set (polygons or RLE)")
    ann.setdefault("iscrowd", 0)
    if "area" in ann and "bbox" in ann:
        return
    img = images[ann["image_id"]]
    rle = _rle(ann["segmentation"], img["height"], img["width"])
    ann.setdefault("area", float(mask_utils.area(rle)))
    ann.setdefault("bbox", [float(v) for v in mask_utils.toBbox(rle)])


def _rle(segmentation, height: int, width: int) -> dict:
    """COCO's annToRLE: polygons and uncompressed RLE -> one compressed RLE."""
    if isinstance(segmentation, list):
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    if isinstance(segmentation["counts"], list):
        return mask_utils.frPyObjects(segmentation, height, width)
    return segmentation


def cache_dir() -> str:
    """Where data written on demand is kept: $MRCNN_EDGE_CACHE, else ~/.cache/mrcnn-edge."""
    return os.environ.get("MRCNN_EDGE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mrcnn-edge")


def synthetic_val_dataset(num_images: int, kind: str = "shapes") -> CocoDataset:
    """A synthetic val set ("shapes", or "figures" for keypoints) as a COCO dataset on disk (PNG, lossless),
    written once and reused."""
    from ..data import figures, synthetic
    from ..data.coco import annotations_file, write_synthetic_coco

    VAL = {"shapes": synthetic.VAL, "figures": figures.VAL}[kind]
    root = os.path.join(cache_dir(), "synthetic-val" if kind == "shapes" else f"{kind}-val")
    annotations = os.path.join(root, annotations_file(VAL))
    if os.path.isfile(annotations):
        dataset = load_dataset(annotations, os.path.join(root, "images"))
        if len(dataset.gt["images"]) >= num_images:
            return dataset
    with write_atomic(root, suffix=f".tmp{os.getpid()}") as tmp:  # a reader sees the old set or the whole new one
        write_synthetic_coco(VAL, num_images, tmp)
    return load_dataset(annotations, os.path.join(root, "images"))
