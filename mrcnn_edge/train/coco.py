"""A user's COCO-format set (annotations JSON + image folder) as training items for `mrcnn-edge train --data`.

Rows as exports really carry them: polygons, compressed and uncompressed RLE, `iscrowd` regions (left out of
the targets, as torchvision's references/detection/coco_utils.py leaves them), images without annotations
(kept: they teach the background), any image size, category ids in any order. A bad row (a missing or corrupt
image, an image whose size is not the JSON's, an annotation of an unknown image or category, a polygon of
fewer than 3 points, an empty mask, a malformed segmentation) is skipped and named in the report, never fatal
unless `strict`; a box or polygon reaching outside its image is clipped and counted. Every image is decoded
once here, so a bad file is reported before training starts rather than hours into it.

An item is keyed (seed, index): its augmentation is drawn from torch's generator seeded from both, inside
`fork_rng`, so it is the same whichever worker or process loads it (resume and DDP rely on that).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from pycocotools import mask as mask_utils
from torch.utils.data import Dataset
from torchvision import tv_tensors

from ..errors import UserError
from ..eval.dataset import read_coco_json
from ..images import IMAGE_EXTENSIONS, read_image
from ..keypoint_layout import KeypointLayout
from ..threads import requested_threads
from .augment import Augmentation, Instances, augment
from .segmentation import BadRow, to_rle

SHOWN_SKIPS = 5  # named in the summary; all are in to_json()


@dataclass
class DataReport:
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why), in the file's order
    clipped: int = 0  # boxes or polygons reaching outside their image: clipped and kept
    crowd: int = 0  # iscrowd regions, left out of the targets
    negatives: int = 0  # trainable images without objects
    images: int = 0  # trainable images, negatives included
    instances: int = 0

    def summary_lines(self) -> list[str]:
        lines = [f"data: {self.images} trainable image{'s' if self.images != 1 else ''} ({self.negatives} without "
                 f"objects), {self.instances} instances"]
        extra = [f"{self.clipped} reaching outside their image clipped to it" if self.clipped else "",
                 f"{self.crowd} crowd regions left out of the loss" if self.crowd else ""]
        if any(extra):
            lines.append("  " + "; ".join(e for e in extra if e))
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)} bad row{'s' if len(self.skipped) > 1 else ''} "
                         "(--strict makes the first an error):")
            lines += [f"    {what}: {why}" for what, why in self.skipped[:SHOWN_SKIPS]]
            if len(self.skipped) > SHOWN_SKIPS:
                lines.append(f"    ... and {len(self.skipped) - SHOWN_SKIPS} more (all in data_report.json)")
        return lines

    def to_json(self) -> dict:
        return {"images": self.images, "instances": self.instances, "negatives": self.negatives,
                "clipped": self.clipped, "crowd": self.crowd,
                "skipped": [{"what": what, "why": why} for what, why in self.skipped]}


@dataclass
class _Object:
    label: int  # 1-based, contiguous
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 (x2, y2 exclusive), within the image
    rle: dict | None  # compressed, the image's size; None for keypoint models (their box is enough)
    keypoints: np.ndarray | None  # [K,3]


@dataclass
class _Image:
    name: str  # "image 7 (img7.jpg)", as the report names it
    path: str
    height: int
    width: int
    objects: list[_Object] = field(default_factory=list)
    annotated: int = 0  # annotations naming it, bad and crowd ones included


class _Skips:
    """The report's skip list; in strict mode the first bad row is the error instead."""

    def __init__(self, report: DataReport, strict: bool, source: str):
        self.report, self.strict, self.source = report, strict, source

    def add(self, what: str, why: str, bad: bool = True) -> None:
        if self.strict and bad:
            raise UserError(f"{self.source}: {what}: {why} (without --strict it would be skipped)")
        self.report.skipped.append((what, why))


class CocoTrainSet(Dataset):
    """Item (seed, index) -> (image float32 [3,H,W] in 0..1, target): the frame letterboxed to `size` as deploy
    letterboxes it (augmented when `augment`). Target: boxes float32 [N,4] x1, y1, x2, y2 in input pixels, x2
    and y2 exclusive (a mask's box spans its last pixel, as `data.synthetic.masks_to_boxes` and COCO's bbox;
    torchvision.ops.masks_to_boxes + [0, 0, 1, 1]); labels int64 [N], 1-based (label c is classes[c - 1]);
    masks uint8 [N,H,W], or with `keypoints` keypoints float32 [N,K,3] (x, y, visibility 0/1/2) instead.
    """

    def __init__(self, annotations: str, images_dir: str, size: tuple[int, int], *, augment: bool = True,
                 keypoints: bool = False, strict: bool = False):
        coco = _load(annotations)
        _check_folder(images_dir)
        self.size, self.keypoints = (int(size[0]), int(size[1])), keypoints
        self.augmentation = Augmentation() if augment else None
        self.report = DataReport()
        skips = _Skips(self.report, strict, annotations)
        categories = _categories(coco["categories"], annotations)
        self.category_ids = sorted(categories)
        self.classes = [str(categories[i].get("name", i)) for i in self.category_ids]
        self.keypoint_layout = _layout(categories, annotations) if keypoints else None
        self._flip = self.keypoint_layout.flip_indices() if self.keypoint_layout else None
        images, dropped = _images(coco["images"], images_dir, skips)
        labels = {cid: c + 1 for c, cid in enumerate(self.category_ids)}
        for k, ann in enumerate(coco["annotations"]):
            self._annotation(ann, k, (images, dropped), labels, skips)
        self._items = _trainable(images, skips, self.report)
        if not self._items:
            raise _nothing_left(annotations, self.report)

    def __len__(self) -> int:
        return len(self._items)

    def image_path(self, index: int) -> str:
        """The file of item `index` (for logs, and for tests that decode it themselves)."""
        return self._items[index].path

    def __getitem__(self, key) -> tuple[torch.Tensor, dict]:
        seed, index = key if isinstance(key, tuple) else (0, key)
        image = self._items[index]
        frame = read_image(image.path)
        instances = self._instances(image)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_item_seed(seed, index))
            tensor, settled = augment(frame, instances, self.size, self.augmentation, self._flip)
        target = {"boxes": settled.boxes.reshape(-1, 4), "labels": settled.labels}
        if self.keypoints:
            target["keypoints"] = settled.keypoints
        else:
            target["masks"] = settled.masks
        return tensor, target

    def _instances(self, image: _Image) -> Instances:
        objects, (h, w) = image.objects, (image.height, image.width)
        boxes = tv_tensors.BoundingBoxes(torch.tensor([o.box for o in objects], dtype=torch.float32).reshape(-1, 4),
                                         format="XYXY", canvas_size=(h, w))
        labels = torch.tensor([o.label for o in objects], dtype=torch.int64)
        if self.keypoints:
            K = self.keypoint_layout.num_keypoints
            points = torch.from_numpy(np.array([o.keypoints for o in objects], np.float32).reshape(-1, K, 3))
            return Instances(labels, boxes, keypoints=points)
        masks = (mask_utils.decode([o.rle for o in objects]).transpose(2, 0, 1) if objects
                 else np.zeros((0, h, w), np.uint8))
        return Instances(labels, boxes, masks=tv_tensors.Mask(torch.from_numpy(np.ascontiguousarray(masks))))

    def _annotation(self, ann, k: int, images: tuple[dict, set], labels: dict, skips: _Skips) -> None:
        """One annotation row -> an object of its image, or a named skip. Rows of an image already skipped go
        quietly: the image is named once."""
        what = f"annotation {ann.get('id', f'#{k + 1}')}" if isinstance(ann, dict) else f"annotation #{k + 1}"
        problem = _annotation_problem(ann, images, labels)
        if problem:
            skips.add(what, problem)
            return
        image = images[0].get(_key(ann["image_id"]))
        if image is None:
            return
        image.annotated += 1
        if ann.get("iscrowd"):
            self.report.crowd += 1
            return
        try:
            image.objects.append(self._object(ann, labels[_key(ann["category_id"])], image, what, skips))
        except BadRow as e:
            skips.add(what, str(e))

    def _object(self, ann: dict, label: int, image: _Image, what: str, skips: _Skips) -> _Object:
        points = _keypoints(ann, self.keypoint_layout) if self.keypoints else None
        seg = ann.get("segmentation")
        if self.keypoints and not seg:  # keypoint-only rows: the bbox field is the box
            return _Object(label, self._bbox(ann.get("bbox"), image), None, points)
        if seg is None:
            raise BadRow("no segmentation (a mask model needs polygons or RLE)")
        decoded = to_rle(seg, image.height, image.width)
        for why in decoded.dropped:
            skips.add(what, why)
        if mask_utils.area(decoded.rle) == 0:
            raise BadRow("empty mask (zero area)")
        self.report.clipped += decoded.outside
        x, y, w, h = (float(v) for v in mask_utils.toBbox(decoded.rle))
        return _Object(label, (x, y, x + w, y + h), None if self.keypoints else decoded.rle, points)

    def _bbox(self, bbox, image: _Image) -> tuple[float, float, float, float]:
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_number(v) for v in bbox)):
            raise BadRow("neither a segmentation nor a bbox [x, y, width, height]")
        x, y, w, h = (float(v) for v in bbox)
        if w <= 0 or h <= 0:
            raise BadRow(f"zero-area box {bbox}")
        box = (max(0.0, x), max(0.0, y), min(float(image.width), x + w), min(float(image.height), y + h))
        if box != (x, y, x + w, y + h):
            self.report.clipped += 1
        if box[2] <= box[0] or box[3] <= box[1]:
            raise BadRow(f"box {bbox} lies outside the {image.width}x{image.height} image")
        return box


def _annotation_problem(ann, images: tuple[dict, set], labels: dict) -> str | None:
    if not isinstance(ann, dict):
        return "not a JSON object"
    image_id = _key(ann.get("image_id"))
    if image_id not in images[0] and image_id not in images[1]:
        return f"image_id {ann.get('image_id')} is not in images"
    if _key(ann.get("category_id")) not in labels:
        return f"category_id {ann.get('category_id')} is not in categories"
    return None


def _item_seed(seed: int, index: int) -> int:
    """One 64-bit seed from (seed, index): items that share a seed still draw differently."""
    return int(np.random.SeedSequence([int(seed) % 2**64, int(index)]).generate_state(1, np.uint64)[0]) >> 1


def _key(value):
    """Ids as JSON keys: 7 and 7.0 are one id; anything unhashable is no id."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, (int, str)) else None


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def _load(path: str) -> dict:
    coco = read_coco_json(path)
    missing = [k for k in ("images", "annotations", "categories")
               if not isinstance(coco, dict) or not isinstance(coco.get(k), list)]
    if missing:
        raise UserError(f"{path} lacks the list{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
                        "it is not a COCO instances file")
    return coco


def _check_folder(images_dir: str) -> None:
    if not os.path.isdir(images_dir):
        raise UserError(f"image folder not found: {images_dir} (pass the folder the file_name entries are in "
                        "with --images)")
    for _, _, files in os.walk(images_dir):  # file_name may name a subfolder: any image below will do
        if any(f.lower().endswith(IMAGE_EXTENSIONS) for f in files):
            return
    raise UserError(f"image folder {images_dir} holds no image files ({', '.join(IMAGE_EXTENSIONS)}): "
                    "pass the folder the file_name entries are in")


def _categories(rows: list, source: str) -> dict:
    by_id = {}
    for row in rows:
        if not isinstance(row, dict) or _key(row.get("id")) is None or isinstance(row.get("id"), str):
            raise UserError(f"{source}: category {row} has no numeric id: each category needs an id and a name")
        if _key(row["id"]) in by_id:
            raise UserError(f"{source}: category id {row['id']} is listed twice: give each category its own id")
        by_id[_key(row["id"])] = row
    if not by_id:
        raise UserError(f"{source} lists no categories: there is nothing to learn")
    return by_id


def _layout(categories: dict, source: str) -> KeypointLayout:
    """The keypoint layout of the categories that have keypoints (one layout: Keypoint R-CNN predicts one K)."""
    with_points = [c for _, c in sorted(categories.items()) if c.get("keypoints")]
    if not with_points:
        raise UserError(f"{source}: no category lists keypoints: a keypoint model needs a person_keypoints-style "
                        "file (categories[].keypoints and skeleton), or choose a mask architecture")
    names = tuple(str(n) for n in with_points[0]["keypoints"])
    others = [c.get("name") for c in with_points[1:] if tuple(map(str, c["keypoints"])) != names]
    if others:
        raise UserError(f"{source}: categories {with_points[0].get('name')} and {others[0]} list different keypoints: "
                        "a keypoint model has one set, so train on one of them")
    first = with_points[0]
    try:
        limbs = tuple((names[a - 1], names[b - 1]) for a, b in first.get("skeleton") or ())
    except (TypeError, ValueError, IndexError):
        raise UserError(f"{source}: category {first.get('name')}'s skeleton is not pairs of 1-based keypoint "
                        f"numbers (1..{len(names)})") from None
    sigmas = first.get("sigmas")
    return KeypointLayout(names, limbs, None if sigmas is None else tuple(float(s) for s in sigmas))


def _keypoints(ann: dict, layout: KeypointLayout) -> np.ndarray:
    K = layout.num_keypoints
    values = ann.get("keypoints")
    if values is None:
        return np.zeros((K, 3), np.float32)  # no joints labelled: the box still trains
    if not isinstance(values, list) or len(values) != 3 * K or not all(_number(v) for v in values):
        raise BadRow(f"keypoints must be {3 * K} numbers (x, y, visibility for each of {K} keypoints)")
    points = np.array(values, np.float32).reshape(K, 3)
    if not np.isin(points[:, 2], (0, 1, 2)).all():
        raise BadRow("keypoint visibility must be 0, 1 or 2")
    return points


def _images(rows: list, images_dir: str, skips: _Skips) -> tuple[dict, set]:
    """(id -> _Image for every listed image whose file decodes at the JSON's size, the ids of the others)."""
    listed, dropped = {}, set()
    for k, row in enumerate(rows):
        problem = _image_row_problem(row)
        ident = _key(row.get("id")) if isinstance(row, dict) else None
        if problem:
            skips.add(f"image entry #{k + 1}" if ident is None else f"image {ident}", problem)
            dropped.add(ident)
        elif ident in listed:
            skips.add(f"image {ident} ({row['file_name']})", "its id is listed twice: the first entry is used")
        else:
            listed[ident] = _Image(f"image {ident} ({row['file_name']})", os.path.join(images_dir, row["file_name"]),
                                   int(row["height"]), int(row["width"]))
    images = {}
    for (ident, image), problem in zip(listed.items(), _file_problems(list(listed.values()))):
        if problem:
            skips.add(image.name, problem)
            dropped.add(ident)
        else:
            images[ident] = image
    return images, dropped


def _image_row_problem(row) -> str | None:
    if not isinstance(row, dict):
        return "not a JSON object"
    missing = [k for k in ("id", "file_name", "height", "width") if k not in row]
    if missing:
        return f"lacks {', '.join(missing)}"
    if _key(row["id"]) is None or not isinstance(row["file_name"], str):
        return "its id or file_name is not a number or a string"
    if not all(_number(row[k]) and float(row[k]).is_integer() and row[k] > 0 for k in ("height", "width")):
        return f"height {row['height']} and width {row['width']} must be whole numbers above 0"
    return None


def _file_problems(images: list[_Image]) -> list[str | None]:
    """Decode every image once (the toolkit's decoder, threads: Pillow decodes without the GIL); why each
    one cannot be trained on, or None."""
    with ThreadPoolExecutor(max_workers=requested_threads() or os.cpu_count() or 1) as pool:
        return list(pool.map(_file_problem, images))


def _file_problem(image: _Image) -> str | None:
    if not os.path.isfile(image.path):
        return "file missing"
    try:
        h, w = read_image(image.path, {}).shape[:2]
    except UserError:
        return "the file is corrupt, truncated or not an image"
    if (h, w) == (image.height, image.width):
        return None
    rotated = " (EXIF-rotated: the JSON gives the stored size, this toolkit reads images upright)" \
        if (w, h) == (image.height, image.width) else ""
    return f"the file is {w}x{h}, the JSON says {image.width}x{image.height}{rotated}"


def _trainable(images: dict, skips: _Skips, report: DataReport) -> list[_Image]:
    """Images with objects, and negatives: images no annotation names. An image whose every annotation was
    bad or crowd is left out: trained as background, it would teach that its objects are background."""
    items = []
    for image in images.values():
        if not image.objects and image.annotated:
            skips.add(image.name, "none of its annotations is usable (all crowd regions or skipped): trained "
                      "without them, its objects would be learnt as background", bad=False)
            continue
        items.append(image)
        report.negatives += not image.objects
        report.instances += len(image.objects)
    report.images = len(items)
    return items


def _nothing_left(source: str, report: DataReport) -> UserError:
    first = f" (first: {report.skipped[0][0]}: {report.skipped[0][1]})" if report.skipped else ""
    return UserError(f"{source}: nothing left to train on: {len(report.skipped)} row"
                     f"{'s' if len(report.skipped) != 1 else ''} skipped{first}; fix those rows or pass the "
                     "right --images folder")
