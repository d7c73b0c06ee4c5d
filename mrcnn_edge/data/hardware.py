"""A synthetic workshop-hardware set written as a labelling tool exports it: COCO JSON + a folder of images.

Washers, hex nuts and wrenches of random metal finish lie on a bench (wood, tinted texture photos, a cutting
mat or a photo), later parts covering earlier ones. It exists to exercise `mrcnn-edge train --data` the way a
user's export does, so the JSON carries what real exports carry and the shapes and figures sets never do:
category ids that neither start at 1 nor run on (3, 7, 12), two image sizes, JPEG and PNG files, images with
no objects, and each visible mask stored in one of COCO's three encodings (polygons, several for a part that
another splits; compressed RLE; uncompressed RLE with counts as a list). Image i depends only on (seed, i).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..rle import encode_rle

CLASSES = ("washer", "hex_nut", "wrench")
CATEGORY_IDS = (3, 7, 12)  # as exports number them: not from 1, not contiguous
MIN_VISIBLE_FRACTION = 0.3  # parts covered more than this are not labelled (an annotator would skip them)
MIN_VISIBLE_PIXELS = 60
# Metal finishes, RGB: bright zinc, steel, brass, copper, black oxide.
FINISHES = ((200, 205, 212), (160, 163, 170), (181, 150, 80), (184, 115, 70), (62, 62, 68))
# scikit-image's bundled images (no download): grey textures tinted as bench tops, and colour photos.
TEXTURES = ("brick", "grass", "gravel")
PHOTOS = ("coffee", "chelsea", "astronaut", "rocket")
ENCODINGS = ("polygon", "rle", "counts")
# Polygons most often: parts with a hole (washers, nuts, ring wrenches) fall back to RLE whatever is drawn.
ENCODING_SHARES = (0.5, 0.25, 0.25)


@dataclass(frozen=True)
class Part:
    kind: int  # index into CLASSES
    cx: float
    cy: float
    size: float  # outer radius (washer, nut) or half the length (wrench), pixels
    angle: float  # radians
    aspect: float  # washers seen at a tilt: minor / major axis
    hole: float  # the hole's radius against the outer one; wrenches: 0 (open jaws) or a ring end
    finish: tuple[int, int, int]
    light: float  # the light's direction, radians


def random_parts(rng: np.random.Generator, height: int, width: int, max_parts: int = 6) -> list[Part]:
    parts = []
    for _ in range(rng.integers(1, max_parts + 1)):
        kind = int(rng.integers(0, len(CLASSES)))
        low, high = ((18, 60), (16, 50), (40, 130))[kind]
        tint = rng.integers(-15, 16, 3)
        finish = tuple(int(v) for v in np.clip(np.array(FINISHES[rng.integers(0, len(FINISHES))]) + tint, 0, 255))
        parts.append(Part(
            kind=kind, cx=float(rng.uniform(0, width)), cy=float(rng.uniform(0, height)),
            size=float(np.exp(rng.uniform(np.log(low), np.log(high)))), angle=float(rng.uniform(0, 2 * np.pi)),
            aspect=float(rng.uniform(0.6, 1.0)) if kind == 0 else 1.0,
            hole=float(rng.uniform(0.35, 0.55)) if kind < 2 else float(rng.integers(0, 2)) * 0.5,
            finish=finish, light=float(rng.uniform(0, 2 * np.pi)),
        ))
    return parts


def part_mask(part: Part, height: int, width: int) -> np.ndarray:
    """The part's full (unoccluded) mask, uint8 0/1; its hole, if any, is 0."""
    mask = np.zeros((height, width), np.uint8)
    centre = (round(part.cx), round(part.cy))
    if CLASSES[part.kind] == "washer":
        axes = (round(part.size), round(part.size * part.aspect))
        cv2.ellipse(mask, centre, axes, np.degrees(part.angle), 0, 360, 1, -1)
        hole = (round(axes[0] * part.hole), round(axes[1] * part.hole))
        cv2.ellipse(mask, centre, hole, np.degrees(part.angle), 0, 360, 0, -1)
    elif CLASSES[part.kind] == "hex_nut":
        t = part.angle + np.arange(6) * np.pi / 3
        cv2.fillPoly(mask, [np.round(np.stack([part.cx + part.size * np.cos(t), part.cy + part.size * np.sin(t)], 1))
                            .astype(np.int32)], 1)
        cv2.circle(mask, centre, round(part.size * part.hole * 0.87), 0, -1)
    else:
        _draw_wrench(mask, part)
    return mask


def _draw_wrench(mask: np.ndarray, part: Part) -> None:
    """A handle with a head at each end: an open jaw (a slot cut along the axis) or, with `hole`, a ring."""
    axis = np.array([np.cos(part.angle), np.sin(part.angle)])
    across = np.array([-axis[1], axis[0]])
    thick = max(3.0, part.size * 0.2)
    ends = [np.array([part.cx, part.cy]) + s * part.size * axis for s in (-1, 1)]
    cv2.line(mask, _pt(ends[0]), _pt(ends[1]), 1, round(thick))
    for end, out in zip(ends, (-axis, axis)):
        cv2.circle(mask, _pt(end), round(1.3 * thick), 1, -1)
        if part.hole and end is ends[1]:
            cv2.circle(mask, _pt(end), round(0.6 * thick), 0, -1)
            continue
        slot = [end - 0.2 * thick * out + s * 0.45 * thick * across for s in (-1, 1)]
        slot += [p + 2 * thick * out for p in slot[::-1]]
        cv2.fillPoly(mask, [np.round(np.array(slot)).astype(np.int32)], 0)


def _pt(p: np.ndarray) -> tuple[int, int]:
    return round(float(p[0])), round(float(p[1]))


def _shaded(part: Part, window: tuple[slice, slice]) -> np.ndarray:
    """The part's metal over an image window, RGB float: a gradient toward the light, a specular streak
    across it and brushed grain, so parts look lit rather than flat."""
    ys, xs = window
    yy, xx = np.mgrid[ys, xs].astype(np.float32)
    u, v = (xx - part.cx) / part.size, (yy - part.cy) / part.size
    along = u * np.cos(part.light) + v * np.sin(part.light)
    across = -u * np.sin(part.light) + v * np.cos(part.light)
    shade = 0.7 + 0.3 * np.clip(along, -1, 1)
    streak = np.exp(-((across - 0.25) / 0.18) ** 2, dtype=np.float32) * 0.45
    grain = 0.04 * np.sin(across * 60 + np.sin(along * 7))
    return np.array(part.finish, np.float32) * (shade + grain)[..., None] + 255 * streak[..., None]


def _window(mask: np.ndarray) -> tuple[slice, slice] | None:
    ys, xs = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    return None if not len(ys) else (slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1))


@lru_cache(maxsize=None)
def _skimage_image(name: str) -> np.ndarray | None:
    try:
        from skimage import data
        return np.ascontiguousarray(getattr(data, name)())
    except Exception:  # scikit-image missing (it is optional): procedural benches only
        return None


@lru_cache(maxsize=1)
def _noise() -> np.ndarray:
    """A fixed 1024x1024 field of fine noise: crops of it make film grain cheaply (drawing fresh noise for
    every image would take most of the ~20 ms an image may cost)."""
    return np.random.default_rng(0).normal(0, 1, (1024, 1024)).astype(np.float32)


def bench(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """The background, RGB uint8: wood, a tinted texture, a cutting mat or a photo, with grain."""
    kind = int(rng.integers(0, 4))
    photo = _skimage_image((TEXTURES + PHOTOS)[rng.integers(0, len(TEXTURES + PHOTOS))]) if kind >= 2 else None
    if photo is None:
        img = _wood(rng, height, width) if kind != 1 else _mat(rng, height, width)
    else:
        img = _photo_crop(rng, photo, height, width)
    return img + _grain(rng, height, width) * rng.uniform(2, 7)


def _grain(rng, height: int, width: int) -> np.ndarray:
    if height > 1024 or width > 1024:
        return rng.normal(0, 1, (height, width, 1)).astype(np.float32)
    y, x = rng.integers(0, 1024 - height + 1), rng.integers(0, 1024 - width + 1)
    return _noise()[y:y + height, x:x + width, None]


def _wood(rng, height: int, width: int) -> np.ndarray:
    low = cv2.resize(rng.random((max(2, height // 40), max(2, width // 40)), np.float32), (width, height),
                     interpolation=cv2.INTER_CUBIC)
    t = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ring = np.sin((xx * np.cos(t) + yy * np.sin(t)) / rng.uniform(4, 12) + 6 * low)
    base = np.array([rng.uniform(120, 200), rng.uniform(80, 140), rng.uniform(40, 90)], np.float32)
    return base * (0.85 + 0.15 * ring)[..., None]


def _mat(rng, height: int, width: int) -> np.ndarray:
    img = np.empty((height, width, 3), np.float32)
    img[:] = rng.uniform(20, 90, 3)
    step = int(rng.integers(20, 50))
    line = (rng.uniform(120, 220, 3)).tolist()
    for x in range(int(rng.integers(0, step)), width, step):
        cv2.line(img, (x, 0), (x, height - 1), line, 1)
    for y in range(int(rng.integers(0, step)), height, step):
        cv2.line(img, (0, y), (width - 1, y), line, 1)
    return img


def _photo_crop(rng, photo: np.ndarray, height: int, width: int) -> np.ndarray:
    h, w = photo.shape[:2]
    scale = max(height / h, width / w) * rng.uniform(1.0, 1.6)
    ch, cw = min(h, round(height / scale)), min(w, round(width / scale))
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    crop = cv2.resize(photo[y:y + ch, x:x + cw], (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    if crop.ndim == 2:  # a grey texture: tinted, as a painted or stained bench top
        crop = crop[..., None] * rng.uniform(0.5, 1.1, 3).astype(np.float32)
    return crop


def render(parts: list[Part], background: np.ndarray):
    """Draw parts back to front, each with a drop shadow. Returns (RGB uint8 image, visible masks [N,H,W]
    uint8, class indices [N]); parts covered beyond the limits above are left unlabelled (their pixels stay)."""
    img = background
    height, width = img.shape[:2]
    full, visible = [], []
    for part in parts:
        mask = part_mask(part, height, width)
        window = _window(mask)
        if window is not None:
            _shadow(img, mask, window)
            img[window] = np.where(mask[window][..., None] > 0, _shaded(part, window), img[window])
            for v in visible:
                v[window] &= 1 - mask[window]
        full.append(mask)
        visible.append(mask.copy())
    keep = [i for i, (v, m) in enumerate(zip(visible, full))
            if v.sum() >= max(MIN_VISIBLE_PIXELS, MIN_VISIBLE_FRACTION * m.sum())]
    masks = np.stack([visible[i] for i in keep]) if keep else np.zeros((0, height, width), np.uint8)
    return np.clip(img, 0, 255).astype(np.uint8), masks, np.array([parts[i].kind for i in keep], np.int64)


def _shadow(img: np.ndarray, mask: np.ndarray, window: tuple[slice, slice], dx: int = 4, dy: int = 5) -> None:
    """Darken the bench under the part, offset down-right, as a lamp above-left would."""
    ys, xs = window
    y0, x0 = ys.start + dy, xs.start + dx
    h, w = min(ys.stop - ys.start, img.shape[0] - y0), min(xs.stop - xs.start, img.shape[1] - x0)
    if h > 0 and w > 0:
        shifted = mask[ys.start:ys.start + h, xs.start:xs.start + w, None] > 0
        img[y0:y0 + h, x0:x0 + w] *= np.where(shifted, 0.6, 1.0).astype(np.float32)


def sample(seed: int, index: int, sizes=((480, 640), (384, 384)), max_parts: int = 6, negatives: float = 0.1):
    """Image `index` of the set seeded `seed`: (RGB uint8 [H,W,3], visible masks [N,H,W], class indices [N])."""
    rng = np.random.default_rng([seed, index])
    height, width = sizes[rng.integers(0, len(sizes))]
    background = bench(rng, height, width)
    parts = [] if rng.random() < negatives else random_parts(rng, height, width, max_parts)
    return render(parts, background)


def segmentation(mask: np.ndarray, encoding: str):
    """A visible mask in one of COCO's encodings. "polygon" gives one polygon per outline (vertices at pixel
    centres, as a tool tracing the mask does); a mask with a hole, or a speck too small for a polygon, falls
    back to compressed RLE, since polygons cannot hold a hole (pycocotools unites them)."""
    window = _window(mask)
    if encoding == "polygon":
        polygons = _polygons(mask, window)
        if polygons is not None:
            return polygons
    if encoding == "counts":
        return {"counts": _runs(mask), "size": list(mask.shape)}
    return encode_rle(mask, (window[1].start, window[0].start, window[1].stop - window[1].start,
                             window[0].stop - window[0].start))


def _polygons(mask: np.ndarray, window: tuple[slice, slice]) -> list[list[float]] | None:
    crop = np.ascontiguousarray(mask[window])
    contours, hierarchy = cv2.findContours(crop, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE,
                                           offset=(window[1].start, window[0].start))
    if (hierarchy[0][:, 3] >= 0).any() or any(len(c) < 3 for c in contours):  # a hole, or a 1-2 pixel speck
        return None
    return [[round(float(v) + 0.5, 1) for v in c.reshape(-1)] for c in contours]


def _runs(mask: np.ndarray) -> list[int]:
    """Uncompressed RLE counts: run lengths down the columns, starting with a run of zeros."""
    column_major = mask.T.ravel()
    edges = np.flatnonzero(column_major[1:] != column_major[:-1]) + 1
    runs = np.diff(np.concatenate([[0], edges, [column_major.size]])).tolist()
    return [0] + runs if column_major[0] else runs


def annotations_of(image_id: int, masks: np.ndarray, kinds: np.ndarray, first_id: int,
                   rng: np.random.Generator) -> list[dict]:
    anns = []
    for k, (mask, kind) in enumerate(zip(masks, kinds)):
        ys, xs = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
        anns.append({
            "id": first_id + k, "image_id": image_id, "category_id": CATEGORY_IDS[kind],
            "segmentation": segmentation(mask, rng.choice(ENCODINGS, p=ENCODING_SHARES)),
            "area": float(mask.sum()), "iscrowd": 0,
            "bbox": [float(xs[0]), float(ys[0]), float(xs[-1] + 1 - xs[0]), float(ys[-1] + 1 - ys[0])],
        })
    return anns


def hardware_coco(num_images: int, seed: int, image_dir: str, sizes=((480, 640), (384, 384)),
                  max_parts: int = 6, negatives: float = 0.1) -> dict:
    """Render `num_images` images into image_dir (PNG for a third of them, JPEG for the rest) and return the
    COCO dict; image ids start at 1."""
    os.makedirs(image_dir, exist_ok=True)
    coco = {"images": [], "annotations": [],
            "categories": [{"id": i, "name": n, "supercategory": "hardware"} for i, n in zip(CATEGORY_IDS, CLASSES)]}
    for index in range(num_images):
        image, masks, kinds = sample(seed, index, sizes, max_parts, negatives)
        rng = np.random.default_rng([seed, index, 1])  # the file's format and the encodings
        name = f"{index:06d}.{'png' if rng.random() < 1 / 3 else 'jpg'}"
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1] if name.endswith("png") else [cv2.IMWRITE_JPEG_QUALITY, 92]
        cv2.imwrite(os.path.join(image_dir, name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
        coco["images"].append({"id": index + 1, "file_name": name, "height": image.shape[0], "width": image.shape[1]})
        coco["annotations"] += annotations_of(index + 1, masks, kinds, len(coco["annotations"]) + 1, rng)
    return coco


def write_hardware_coco(out_dir: str, num_images: int, seed: int, sizes=((480, 640), (384, 384)),
                        max_parts: int = 6, negatives: float = 0.1) -> str:
    """Write `out_dir/images/*.jpg|png` and `out_dir/instances.json`; returns the JSON's path."""
    coco = hardware_coco(num_images, seed, os.path.join(out_dir, "images"), sizes, max_parts, negatives)
    path = os.path.join(out_dir, "instances.json")
    with open(path, "w") as f:
        json.dump(coco, f)
    return path


def write_hardware_splits(out_dir: str, train: int = 300, val: int = 60, seed: int = 0) -> tuple[str, str]:
    """A train and a held-out val set (seeds `seed` and `seed + 1`) under out_dir/train and out_dir/val;
    returns their JSON paths."""
    return (write_hardware_coco(os.path.join(out_dir, "train"), train, seed),
            write_hardware_coco(os.path.join(out_dir, "val"), val, seed + 1))
