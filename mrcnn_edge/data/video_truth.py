"""Synthetic videos with known identities: each object's id, visible box and visible mask on every frame,
written beside the video as a MOTChallenge sequence (gt/gt.txt, seqinfo.ini) and as MOTS text (gt/gt_mots.txt).

The scenes are scripted, each a case a tracker is known to find hard:
- crossing:    two objects of one class and colour whose paths cross;
- occlusion:   a small object that passes behind a large one for several frames;
- enter_leave: objects that enter the frame and others that leave it;
- fast:        a fast mover (about a third of its own width a frame) among slow ones.
Objects move in straight lines (no bounce, so they can leave), drawn with the synthetic set's own shapes
and renderer (data/synthetic.py), so the shipped model sees what it was trained on. An object is in the
ground truth on a frame when it is as visible as the training labels ask (synthetic.MIN_VISIBLE_*).
"""
from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, replace

import numpy as np

from ..files import write_atomic

# MOTS text's class of the evaluated objects (MOTS: 1 car, 2 pedestrian); ids are written class * 1000 + id
MOTS_CLASS = 2
SCENES = ("crossing", "occlusion", "enter_leave", "fast")


@dataclass(frozen=True)
class Mover:
    """An object on a straight path: its shape at frame 0 (synthetic.Shape), pixels and radians per frame."""
    shape: object
    velocity: tuple[float, float]
    spin: float = 0.0

    def at(self, t: int):
        vx, vy = self.velocity
        return replace(self.shape, cx=self.shape.cx + vx * t, cy=self.shape.cy + vy * t,
                       angle=self.shape.angle + self.spin * t)


@dataclass
class FrameTruth:
    """One frame's ground truth: ids (1-based), visible boxes x1,y1,x2,y2 (x2, y2 exclusive), visible masks
    bool [N,H,W], categories (synthetic.CLASSES, 1-based)."""
    ids: np.ndarray
    boxes: np.ndarray
    masks: np.ndarray
    categories: np.ndarray


def _shape(category: int, cx: float, cy: float, radius: float, color=(200, 60, 60), texture: int = 0,
           angle: float = 0.3, seed: int = 0):
    from .synthetic import Shape

    return Shape(category, cx, cy, radius, angle, 0.7, color, texture, seed)


def scene_movers(scene: str, height: int, width: int, num_frames: int) -> list[Mover]:
    """The scripted objects of a scene, in drawing order (later ones on top). Sizes and speeds scale with
    the frame, so a scene reads the same at 256 and at 512 pixels."""
    s, T = min(height, width) / 256, max(num_frames - 1, 1)
    cx, cy = width / 2, height / 2
    if scene == "crossing":  # one class, one colour, one texture: only motion tells them apart
        r, dx, dy = 22 * s, width * 0.35, height * 0.3
        return [Mover(_shape(1, cx - dx, cy - dy, r, texture=1, seed=7), (2 * dx / T, 2 * dy / T)),
                Mover(_shape(1, cx + dx, cy - dy, r, texture=1, seed=7), (-2 * dx / T, 2 * dy / T)),
                Mover(_shape(2, width * 0.15, height * 0.85, 20 * s, (60, 160, 220), 2, seed=3), (0.0, 0.0))]
    if scene == "occlusion":  # the star is behind the rectangle (drawn after it) for ~a third of the video
        span = width * 0.9
        return [Mover(_shape(3, width * 0.05, cy, 18 * s, (230, 200, 40), 0, 0.0, 1), (span / T, 0.0)),
                Mover(_shape(2, cx, cy, 52 * s, (70, 90, 200), 2, np.pi / 4, 2), (0.0, 0.0))]
    if scene == "enter_leave":  # the first two leave, the last two enter, at different times
        r, v = 20 * s, width * 1.3 / T
        return [Mover(_shape(1, width * 0.55, height * 0.3, r, (220, 80, 60), 1, seed=4), (v, 0.0)),
                Mover(_shape(4, width * 0.4, height * 0.7, r, (90, 200, 90), 0, seed=5), (-v, 0.0), 0.02),
                Mover(_shape(2, -r - width * 0.25, height * 0.5, r, (200, 120, 240), 2, seed=6), (v, 0.0)),
                Mover(_shape(3, width * 0.5, height + r + height * 0.2, r, (240, 150, 40), 0, seed=8),
                      (0.0, -v * 0.8))]
    if scene == "fast":  # the circle crosses the frame three times (~a third of its width a frame); the others crawl
        r = 20 * s
        return [Mover(_shape(1, -r, height * 0.35, r, (220, 60, 120), 0, seed=9), (3 * (width + 2 * r) / T, 0.0)),
                Mover(_shape(2, width * 0.3, height * 0.7, 24 * s, (60, 180, 200), 1, seed=10), (0.3 * s, -0.1 * s)),
                Mover(_shape(4, width * 0.75, height * 0.72, 22 * s, (150, 220, 60), 0, seed=11), (-0.3 * s, 0.0),
                      0.03)]
    raise ValueError(f"unknown scene {scene!r}: one of {', '.join(SCENES)}")


def scene_frames(scene: str, num_frames: int, height: int, width: int, seed: int = 0, background: str = "clutter"):
    """(RGB frame, FrameTruth) per frame, on a background of synthetic.BACKGROUNDS (clutter, the training set's:
    at 320x320 the shipped model makes the fewest false detections on it, of the kinds tried). The fast mover
    wraps around once it has left (a new pass is the same object, as a tracker should keep it)."""
    from .synthetic import render

    movers = scene_movers(scene, height, width, num_frames)
    background_seed = int(np.random.default_rng(seed).integers(0, 2**31))
    for t in range(num_frames):
        shapes = [m.at(t) for m in movers]
        if scene == "fast":
            shapes[0] = replace(shapes[0], cx=(shapes[0].cx + shapes[0].radius) % (width + 2 * shapes[0].radius)
                                - shapes[0].radius)
        image = render(shapes, height, width, background_seed, background)[0]
        yield image, visible_truth(shapes, height, width)


def visible_truth(shapes: list, height: int, width: int) -> FrameTruth:
    """Each shape's visible mask (later shapes hide earlier ones), kept where it is as visible as
    synthetic.render asks of a training label; ids are the shapes' 1-based places in the list."""
    from .synthetic import MIN_VISIBLE_FRACTION, MIN_VISIBLE_PIXELS, masks_to_boxes, shape_mask

    full = [shape_mask(s, height, width).astype(bool) for s in shapes]
    covered = np.zeros((height, width), bool)
    visible = [None] * len(shapes)
    for i in range(len(shapes) - 1, -1, -1):  # top first: what is drawn later covers what is under it
        visible[i] = full[i] & ~covered
        covered |= full[i]
    keep = [i for i in range(len(shapes))
            if visible[i].sum() >= MIN_VISIBLE_PIXELS and visible[i].sum() >= MIN_VISIBLE_FRACTION * full[i].sum()]
    masks = np.stack([visible[i] for i in keep]) if keep else np.zeros((0, height, width), bool)
    return FrameTruth(np.array([i + 1 for i in keep], np.int64), masks_to_boxes(masks),
                      masks, np.array([shapes[i].category for i in keep], np.int64))


def make_truth_video(folder: str, scene: str, num_frames: int = 90, height: int = 320, width: int = 320,
                     fps: float = 30.0, seed: int = 0, background: str = "clutter") -> str:
    """Write a MOTChallenge-style sequence: folder/video.mp4, folder/gt/gt.txt, folder/gt/gt_mots.txt and
    folder/seqinfo.ini. Returns the video's path. Rewritten whole each call (a few seconds at most)."""
    import cv2

    from ..rle import encode_rle

    os.makedirs(os.path.join(folder, "gt"), exist_ok=True)
    video = os.path.join(folder, "video.mp4")
    mot, mots = [], []
    with write_atomic(video, suffix=".tmp.mp4") as tmp:
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        for t, (image, truth) in enumerate(scene_frames(scene, num_frames, height, width, seed, background)):
            writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            for track_id, box, mask in zip(truth.ids, truth.boxes, truth.masks):
                x1, y1, x2, y2 = (float(v) for v in box)
                # MOTChallenge gt: frame, id, left, top, width, height, active (1), class (1: the evaluated
                # class), visibility; frames 1-based
                mot.append(f"{t + 1},{track_id},{x1:g},{y1:g},{x2 - x1:g},{y2 - y1:g},1,1,1\n")
                rle = encode_rle(mask)["counts"]
                mots.append(f"{t + 1} {MOTS_CLASS * 1000 + track_id} {MOTS_CLASS} {height} {width} {rle}\n")
        writer.release()
    _write(os.path.join(folder, "gt", "gt.txt"), mot)
    _write(os.path.join(folder, "gt", "gt_mots.txt"), mots)
    info = configparser.ConfigParser()
    info.optionxform = str  # MOTChallenge's keys are camelCase
    info["Sequence"] = {"name": os.path.basename(os.path.abspath(folder)), "imDir": "img1", "frameRate": f"{fps:g}",
                        "seqLength": str(num_frames), "imWidth": str(width), "imHeight": str(height), "imExt": ".png"}
    with open(os.path.join(folder, "seqinfo.ini"), "w") as f:
        info.write(f, space_around_delimiters=False)
    return video


def _write(path: str, lines: list[str]) -> None:
    with write_atomic(path) as tmp, open(tmp, "w") as f:
        f.writelines(lines)
