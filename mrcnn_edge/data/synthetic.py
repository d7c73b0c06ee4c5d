"""A synthetic instance-segmentation data set of shapes, deterministic from a seed.

Each image is a *scene*: a list of shapes drawn back to front on a cluttered background, so later
shapes occlude earlier ones. A scene is plain data, so the demo video animates it frame by frame.
Image `i` of a split depends only on (split seed, i): any subset can be regenerated exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

CLASSES = ("circle", "rectangle", "triangle", "star")
MIN_VISIBLE_FRACTION = 0.35  # shapes occluded more than this are not labelled: too ambiguous to ask for
MIN_VISIBLE_PIXELS = 80


@dataclass(frozen=True)
class Shape:
    category: int  # 1-based index into CLASSES, as torchvision's labels
    cx: float
    cy: float
    radius: float
    angle: float  # radians
    aspect: float  # rectangles only: height / width
    color: tuple[int, int, int]
    texture: int  # 0 solid, 1 stripes, 2 noise, 3 gradient
    texture_seed: int


def _polygon(shape: Shape) -> np.ndarray:
    """Vertices of a shape's outline in pixels (circles are drawn by cv2.circle instead)."""
    name = CLASSES[shape.category - 1]
    if name == "rectangle":
        w = shape.radius * 2 / np.sqrt(1 + shape.aspect**2)
        h = w * shape.aspect
        pts = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
    elif name == "triangle":
        t = np.array([np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 + 4 * np.pi / 3])
        pts = shape.radius * np.stack([np.cos(t), np.sin(t)], 1)
    else:  # a five-pointed star
        t = np.pi / 2 + np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, shape.radius, shape.radius * 0.45)
        pts = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    c, s = np.cos(shape.angle), np.sin(shape.angle)
    pts = pts @ np.array([[c, s], [-s, c]])
    return np.round(pts + [shape.cx, shape.cy]).astype(np.int32)


def shape_mask(shape: Shape, height: int, width: int) -> np.ndarray:
    """The full (unoccluded) binary mask of a shape, uint8 0/1."""
    mask = np.zeros((height, width), np.uint8)
    if CLASSES[shape.category - 1] == "circle":
        cv2.circle(mask, (round(shape.cx), round(shape.cy)), round(shape.radius), 1, -1)
    else:
        cv2.fillPoly(mask, [_polygon(shape)], 1)
    return mask


def _texture(shape: Shape, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """The shape's fill over the image window [y0:y1, x0:x1]."""
    rng = np.random.default_rng(shape.texture_seed)
    height, width = y1 - y0, x1 - x0
    base = np.empty((height, width, 3), np.float32)
    base[:] = shape.color
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    if shape.texture == 1:
        period = rng.uniform(6, 14)
        stripes = (np.sin((xx * np.cos(shape.angle) + yy * np.sin(shape.angle)) * 2 * np.pi / period) > 0)
        base *= np.where(stripes, 1.0, 0.55)[..., None]
    elif shape.texture == 2:
        base += rng.normal(0, 28, (height, width, 1)).astype(np.float32)
    elif shape.texture == 3:
        ramp = (xx - shape.cx + shape.radius) / (2 * shape.radius + 1e-6)
        base *= (0.55 + 0.45 * np.clip(ramp, 0, 1))[..., None]
    return base


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A cluttered background: colour gradient, blotches, lines and noise that are not shapes."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = (xx / width * rng.uniform(-1, 1) + yy / height * rng.uniform(-1, 1)) % 1.0
    img = (c0 * (1 - t[..., None]) + c1 * t[..., None]).astype(np.float32)
    for _ in range(rng.integers(3, 9)):  # soft blotches
        center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(10, width // 3)), int(rng.integers(10, height // 3)))
        cv2.ellipse(img, center, axes, float(rng.uniform(0, 180)), 0, 360, rng.uniform(0, 255, 3).tolist(), -1)
    img = cv2.GaussianBlur(img, (0, 0), 6)
    for _ in range(rng.integers(4, 14)):  # thin clutter lines
        p0 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(img, p0, p1, rng.uniform(0, 255, 3).tolist(), int(rng.integers(1, 4)), cv2.LINE_AA)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return img


def random_scene(rng: np.random.Generator, height: int, width: int, max_shapes: int = 8,
                 radius_range: tuple[float, float] = (20, 112)) -> list[Shape]:
    """Shapes of every class with random size, pose, colour and texture, overlapping at random.

    Radii are in pixels (log-uniform), not relative to the image, so a model trained on small
    images sees objects at the same scale as in larger validation and demo frames.
    """
    shapes = []
    for _ in range(rng.integers(2, max_shapes + 1)):
        radius = float(np.exp(rng.uniform(np.log(radius_range[0]), np.log(radius_range[1]))))
        shapes.append(Shape(
            category=int(rng.integers(1, len(CLASSES) + 1)),
            cx=float(rng.uniform(0, width)), cy=float(rng.uniform(0, height)),
            radius=radius, angle=float(rng.uniform(0, 2 * np.pi)), aspect=float(rng.uniform(0.4, 1.0)),
            color=tuple(int(v) for v in rng.integers(0, 256, 3)),
            texture=int(rng.integers(0, 4)), texture_seed=int(rng.integers(0, 2**31)),
        ))
    return shapes


def render(shapes: list[Shape], height: int, width: int, background_seed: int):
    """Draw a scene. Returns (RGB uint8 image, visible masks [N,H,W] uint8, categories [N]).

    Shapes hidden beyond MIN_VISIBLE_FRACTION, or with too few visible pixels, are dropped from the
    labels (their pixels stay in the image, as a real occluded object would).
    """
    img = _background(np.random.default_rng(background_seed), height, width)
    visible = []
    for shape in shapes:
        full = shape_mask(shape, height, width)
        ys, xs = np.nonzero(full)
        if len(ys):
            y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
            window = img[y0:y1, x0:x1]
            window[:] = np.where(full[y0:y1, x0:x1, None] > 0, _texture(shape, y0, y1, x0, x1), window)
        visible = [v & (1 - full) for v in visible]
        visible.append(full)
    keep = [
        i for i, (s, v) in enumerate(zip(shapes, visible))
        if v.sum() >= MIN_VISIBLE_PIXELS and v.sum() >= MIN_VISIBLE_FRACTION * shape_mask(s, height, width).sum()
    ]
    masks = np.stack([visible[i] for i in keep]) if keep else np.zeros((0, height, width), np.uint8)
    categories = np.array([shapes[i].category for i in keep], np.int64)
    return np.clip(img, 0, 255).astype(np.uint8), masks, categories


@dataclass(frozen=True)
class SyntheticSpec:
    """Where a split's images come from: image i is drawn from seed (seed, i)."""
    seed: int
    height: int = 512
    width: int = 512
    max_shapes: int = 8
    radius_range: tuple[float, float] = (20, 112)


# Training images are smaller (faster on a CPU) with the same object scale in pixels.
TRAIN = SyntheticSpec(seed=1, height=384, width=384, max_shapes=6)
VAL = SyntheticSpec(seed=2)  # held out: never seen in training
CALIB = SyntheticSpec(seed=3)  # INT8 calibration images, disjoint from val


def sample(spec: SyntheticSpec, index: int):
    """Image `index` of a split: (RGB uint8 [H,W,3], masks [N,H,W] uint8, categories [N])."""
    rng = np.random.default_rng([spec.seed, index])
    shapes = random_scene(rng, spec.height, spec.width, spec.max_shapes, spec.radius_range)
    return render(shapes, spec.height, spec.width, background_seed=int(rng.integers(0, 2**31)))


def masks_to_boxes(masks: np.ndarray) -> np.ndarray:
    """Tight x1,y1,x2,y2 boxes of binary masks, as torchvision's masks_to_boxes (x2, y2 exclusive)."""
    boxes = np.zeros((len(masks), 4), np.float32)
    for i, m in enumerate(masks):
        ys, xs = np.nonzero(m)
        boxes[i] = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    return boxes


def move(shapes: list[Shape], velocities: np.ndarray, spins: np.ndarray, t: float,
         height: int, width: int) -> list[Shape]:
    """The scene at time t (frames): shapes drift and spin, bouncing off the image border."""
    moved = []
    for s, (vx, vy), w in zip(shapes, velocities, spins):
        moved.append(replace(s, cx=_bounce(s.cx + vx * t, width), cy=_bounce(s.cy + vy * t, height),
                             angle=s.angle + w * t))
    return moved


def _bounce(x: float, extent: float) -> float:
    period = 2 * extent
    x = x % period
    return x if x < extent else period - x
