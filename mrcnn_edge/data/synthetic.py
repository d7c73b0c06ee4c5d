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


def _plain(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """One flat colour with a camera's faint sensor noise: a wall, a table, an empty frame."""
    img = np.empty((height, width, 3), np.float32)
    img[:] = rng.uniform(0, 255, 3)
    return img + rng.normal(0, rng.uniform(0, 4), (height, width, 1)).astype(np.float32)


def _gradient(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth ramp between two colours (sky, vignetting, uneven light), with faint noise."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    t = np.clip(xx / width * rng.uniform(-1, 1) + yy / height * rng.uniform(-1, 1) + rng.uniform(0, 1), 0, 1)
    img = rng.uniform(0, 255, 3) * (1 - t[..., None]) + rng.uniform(0, 255, 3) * t[..., None]
    return img.astype(np.float32) + rng.normal(0, 2, (height, width, 1)).astype(np.float32)


def _noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A flat colour under heavy noise, grey or coloured: a dark camera's gain."""
    img = _plain(rng, height, width)
    channels = 1 if rng.random() < 0.5 else 3
    return img + rng.normal(0, rng.uniform(10, 45), (height, width, channels)).astype(np.float32)


# scikit-image's bundled photos that training may draw backgrounds from. The six the shipped model's phantoms are
# counted on (benchmarks/phantoms.py: astronaut, chelsea, camera, coffee, rocket, hubble_deep_field) are held out,
# and so are those whose content is one of our shapes, which a background must not teach to ignore: round coins,
# craters, a clock face, a retina's disc, cells; colorwheel, checkerboard, logo, binary_blobs, horse.
TRAINING_PHOTOS = ("brick", "grass", "gravel", "immunohistochemistry", "page", "text", "stereo_motorcycle")


def _photo(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random crop of a training photo (scaled, flipped, brightened or darkened), resized to the frame."""
    photo = _training_photo(TRAINING_PHOTOS[int(rng.integers(len(TRAINING_PHOTOS)))])
    h, w = photo.shape[:2]
    side = rng.uniform(0.35, 1.0)
    ch, cw = max(8, int(h * side)), max(8, int(w * side))
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = cv2.resize(photo[y0:y0 + ch, x0:x0 + cw], (width, height), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return crop.astype(np.float32) * rng.uniform(0.6, 1.3)


def _training_photo(name: str) -> np.ndarray:
    """The photo as RGB uint8 (grey ones in three channels); read once per process."""
    if name not in _PHOTOS:
        try:
            import skimage.data
        except ImportError:
            from ..errors import UserError

            raise UserError("photo backgrounds draw scikit-image's sample photos: pip install scikit-image") from None
        image = getattr(skimage.data, name)()
        image = image[0] if isinstance(image, tuple) else image  # stereo_motorcycle: (left, right, disparity)
        image = np.asarray(image)
        if image.dtype != np.uint8:
            image = (255 * image.astype(np.float32) / max(float(image.max()), 1)).astype(np.uint8)
        _PHOTOS[name] = np.repeat(image[..., None], 3, 2) if image.ndim == 2 else image[..., :3]
    return _PHOTOS[name]


_PHOTOS: dict[str, np.ndarray] = {}
BACKGROUNDS = {"clutter": _background, "photo": _photo, "plain": _plain, "gradient": _gradient, "noise": _noise}


def render(shapes: list[Shape], height: int, width: int, background_seed: int, background: str = "clutter"):
    """Draw a scene on a background of the given kind (BACKGROUNDS). Returns (RGB uint8 image, visible masks
    [N,H,W] uint8, categories [N]).

    Shapes hidden beyond MIN_VISIBLE_FRACTION, or with too few visible pixels, are dropped from the
    labels (their pixels stay in the image, as a real occluded object would).
    """
    img = BACKGROUNDS[background](np.random.default_rng(background_seed), height, width)
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
    backgrounds: tuple[str, ...] = ("clutter",)  # each image's kind, drawn uniformly from these (repeat to weigh)
    empty_fraction: float = 0.0  # the share of frames drawn with no shape at all: negatives


# Training images are smaller (faster on a CPU) with the same object scale in pixels.
TRAIN = SyntheticSpec(seed=1, height=384, width=384, max_shapes=6)
VAL = SyntheticSpec(seed=2)  # held out: never seen in training
CALIB = SyntheticSpec(seed=3)  # INT8 calibration images, disjoint from val
# The shipped model's second stage (benchmarks/phantoms.py): the same shapes on photos, plain walls, gradients
# and noise as well as clutter, and a sixth of the frames empty, so that a scene without shapes says so. At the
# val size: `train --data` letterboxes every frame to the model's input, and the model deploys at 512x512.
SCENES = SyntheticSpec(seed=4, max_shapes=6, backgrounds=("clutter", "clutter", "photo", "photo", "plain",
                                                          "gradient", "noise"), empty_fraction=1 / 6)


def sample(spec: SyntheticSpec, index: int):
    """Image `index` of a split: (RGB uint8 [H,W,3], masks [N,H,W] uint8, categories [N])."""
    rng = np.random.default_rng([spec.seed, index])
    shapes = random_scene(rng, spec.height, spec.width, spec.max_shapes, spec.radius_range)
    background_seed = int(rng.integers(0, 2**31))
    # drawn after everything the original splits draw, so their images stay as they were
    background = spec.backgrounds[int(rng.integers(len(spec.backgrounds)))]
    if rng.random() < spec.empty_fraction:
        shapes = []
    return render(shapes, spec.height, spec.width, background_seed, background)


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
