"""A synthetic person-keypoint set: articulated stick figures, deterministic from a seed.

Each figure is an 11-joint skeleton (head, neck, elbows, hands, pelvis, knees, feet) joined by 10 limbs,
posed at random (limb angles, scale, lean) and drawn back to front on the shapes set's textured
backgrounds, among a few shapes that are not figures. Later figures occlude earlier ones. The left
limbs are drawn in a darker shade of the figure's colour than the right ones: a fixed cue, as a person's
face and build are, without which left and right could not be told apart.

Labels follow COCO's person keypoints: per figure [x, y, v] x 11 with v = 2 visible, 1 occluded (by a
later figure), 0 outside the image; its visible mask's box and area; the OKS sigmas travel in the layout.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..keypoint_layout import KeypointLayout
from .synthetic import MIN_VISIBLE_FRACTION, MIN_VISIBLE_PIXELS, random_scene, render

CLASSES = ("figure",)
JOINTS = ("head", "neck", "left_elbow", "left_hand", "right_elbow", "right_hand",
          "pelvis", "left_knee", "left_foot", "right_knee", "right_foot")
LIMBS = (("head", "neck"), ("neck", "left_elbow"), ("left_elbow", "left_hand"), ("neck", "right_elbow"),
         ("right_elbow", "right_hand"), ("neck", "pelvis"), ("pelvis", "left_knee"), ("left_knee", "left_foot"),
         ("pelvis", "right_knee"), ("right_knee", "right_foot"))
# COCO's sigmas of the analogous person joints (shoulders for head and neck, elbows, wrists, hips, knees,
# ankles): the joints here are exact, so the sigmas set the tolerance a person keypoint gets, no looser.
SIGMAS = (0.079, 0.079, 0.072, 0.062, 0.072, 0.062, 0.107, 0.087, 0.089, 0.087, 0.089)
LAYOUT = KeypointLayout(JOINTS, LIMBS, SIGMAS)

# Limb length and thickness as fractions of the figure's height; the head is a disc at the top.
_LENGTH = {"neck": 0.30, "upper_arm": 0.17, "forearm": 0.16, "thigh": 0.22, "shin": 0.22}
_HEAD_RADIUS, _LIMB_THICKNESS, _TORSO_THICKNESS = 0.085, 0.075, 0.13
_LEFT_SHADE = 0.45  # left limbs' brightness against the right ones'


@dataclass(frozen=True)
class Figure:
    """One posed figure: pelvis position and height in pixels, angles in radians (0 = straight down)."""
    cx: float
    cy: float
    height: float
    lean: float  # the torso's angle from upright
    arms: tuple[float, float, float, float]  # left upper arm, left forearm (relative), right upper, right fore
    legs: tuple[float, float, float, float]  # left thigh, left shin (relative), right thigh, right shin
    color: tuple[int, int, int]


def _direction(angle: float) -> np.ndarray:
    """A unit vector at `angle` from straight down (image y grows downwards)."""
    return np.array([np.sin(angle), np.cos(angle)])


def joints(figure: Figure) -> np.ndarray:
    """The figure's joint positions [11, 2] (x, y) in pixels, in JOINTS order."""
    h, up = figure.height, figure.lean + np.pi
    pelvis = np.array([figure.cx, figure.cy])
    neck = pelvis + _LENGTH["neck"] * h * _direction(up)
    head = neck + (_HEAD_RADIUS + 0.02) * h * _direction(up)

    def chain(start, a0, a1, first, second):  # two limbs: the second's angle is relative to the first's
        mid = start + _LENGTH[first] * h * _direction(figure.lean + a0)
        return mid, mid + _LENGTH[second] * h * _direction(figure.lean + a0 + a1)

    l_elbow, l_hand = chain(neck, figure.arms[0], figure.arms[1], "upper_arm", "forearm")
    r_elbow, r_hand = chain(neck, figure.arms[2], figure.arms[3], "upper_arm", "forearm")
    l_knee, l_foot = chain(pelvis, figure.legs[0], figure.legs[1], "thigh", "shin")
    r_knee, r_foot = chain(pelvis, figure.legs[2], figure.legs[3], "thigh", "shin")
    return np.stack([head, neck, l_elbow, l_hand, r_elbow, r_hand, pelvis, l_knee, l_foot, r_knee, r_foot])


def draw_figure(canvas: np.ndarray, figure: Figure, value=None) -> None:
    """Draw a figure into canvas (an RGB float image, or a uint8 mask when `value` is given)."""
    pts = joints(figure)
    index = {n: i for i, n in enumerate(JOINTS)}
    h = figure.height
    colour = np.array(figure.color, np.float32)
    for a, b in LIMBS:
        side_left = a.startswith("left") or b.startswith("left")
        thick = _TORSO_THICKNESS if (a, b) == ("neck", "pelvis") else _LIMB_THICKNESS
        c = value if value is not None else (colour * (_LEFT_SHADE if side_left else 1.0)).tolist()
        p, q = (tuple(int(round(v)) for v in pts[index[j]]) for j in (a, b))
        cv2.line(canvas, p, q, c, max(2, int(round(thick * h))), cv2.LINE_AA if value is None else cv2.LINE_8)
    head = tuple(int(round(v)) for v in pts[index["head"]])
    cv2.circle(canvas, head, max(2, int(round(_HEAD_RADIUS * h))), value if value is not None else colour.tolist(), -1)


def figure_mask(figure: Figure, height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    draw_figure(mask, figure, value=1)
    return mask


def random_figures(rng: np.random.Generator, height: int, width: int, max_figures: int = 4,
                   height_range: tuple[float, float] = (90, 300)) -> list[Figure]:
    """Figures of random pose and size (log-uniform height in pixels), placed so most of each is in view."""
    figures = []
    for _ in range(rng.integers(1, max_figures + 1)):
        h = float(np.exp(rng.uniform(*np.log(height_range))))
        side = lambda: float(rng.uniform(0.15, 2.6))  # an arm's swing out from the body, either side
        figures.append(Figure(
            cx=float(rng.uniform(0.05, 0.95) * width), cy=float(rng.uniform(0.2, 0.95) * height),
            height=h, lean=float(rng.normal(0, 0.35)),
            arms=(-side(), float(rng.uniform(-1.6, 1.6)), side(), float(rng.uniform(-1.6, 1.6))),
            legs=(-float(rng.uniform(0.0, 0.9)), float(rng.uniform(0, 1.5)),
                  float(rng.uniform(0.0, 0.9)), -float(rng.uniform(0, 1.5))),
            color=tuple(int(v) for v in rng.integers(130, 256, 3)),
        ))
    return figures


def render_figures(figures: list[Figure], image: np.ndarray):
    """Draw figures on an RGB uint8 image. Returns (image, visible masks [N,H,W], keypoints [N,11,3]).

    Figures hidden beyond the shapes set's limits are dropped from the labels (their pixels stay).
    """
    height, width = image.shape[:2]
    img = image.astype(np.float32)
    full = [figure_mask(f, height, width) for f in figures]
    visible = []
    for figure, mask in zip(figures, full):
        draw_figure(img, figure)
        visible = [v & (1 - mask) for v in visible]
        visible.append(mask.copy())
    keep = [i for i, (v, m) in enumerate(zip(visible, full))
            if v.sum() >= MIN_VISIBLE_PIXELS and v.sum() >= MIN_VISIBLE_FRACTION * m.sum()]
    keypoints = np.array([_label_joints(figures[i], full[i], visible[i]) for i in keep], np.float32).reshape(-1, len(JOINTS), 3)
    masks = np.stack([visible[i] for i in keep]) if keep else np.zeros((0, height, width), np.uint8)
    return np.clip(img, 0, 255).astype(np.uint8), masks, keypoints


def _label_joints(figure: Figure, full: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """[11, 3] x, y, v: v = 0 outside the image (COCO: not labelled, x = y = 0), 1 covered, 2 visible."""
    height, width = full.shape
    out = np.zeros((len(JOINTS), 3), np.float32)
    for k, (x, y) in enumerate(joints(figure)):
        if not (0 <= x < width and 0 <= y < height):
            continue
        xi, yi = int(x), int(y)
        window = visible[max(0, yi - 1): yi + 2, max(0, xi - 1): xi + 2]
        out[k] = x, y, 2 if window.any() else 1
    return out


@dataclass(frozen=True)
class FigureSpec:
    """Where a split's images come from: image i is drawn from seed (seed, i)."""
    seed: int
    height: int = 512
    width: int = 512
    max_figures: int = 4
    max_shapes: int = 3  # distractors behind the figures


TRAIN = FigureSpec(seed=11, height=384, width=384, max_figures=3)
VAL = FigureSpec(seed=12)  # held out
CALIB = FigureSpec(seed=13)


def sample(spec: FigureSpec, index: int):
    """Image `index` of a split: (RGB uint8 [H,W,3], masks [N,H,W] uint8, keypoints [N,11,3] float32)."""
    rng = np.random.default_rng([spec.seed, index])
    shapes = random_scene(rng, spec.height, spec.width, spec.max_shapes, radius_range=(15, 60))
    image, _, _ = render(shapes, spec.height, spec.width, background_seed=int(rng.integers(0, 2**31)))
    return render_figures(random_figures(rng, spec.height, spec.width, spec.max_figures), image)




def move(figures: list[Figure], velocities: np.ndarray, phases: np.ndarray, t: float,
         height: int, width: int) -> list[Figure]:
    """The figures at time t (frames): they walk (drift, bouncing off the border) and swing their limbs."""
    from .synthetic import _bounce

    moved = []
    for f, (vx, vy), phase in zip(figures, velocities, phases):
        swing = 0.5 * np.sin(0.15 * t + phase)
        moved.append(replace(f, cx=_bounce(f.cx + vx * t, width), cy=_bounce(f.cy + vy * t, height),
                             arms=(f.arms[0] - swing, f.arms[1], f.arms[2] - swing, f.arms[3]),
                             legs=(f.legs[0] + swing, f.legs[1], f.legs[2] - swing, f.legs[3])))
    return moved
