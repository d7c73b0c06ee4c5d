"""Synthetic videos: the demo's, bench's and the tests' input. One scene of moving, overlapping shapes
(the shapes set's) or of walking figures (the figures set's), written once and reused while complete."""
from __future__ import annotations

import os
from typing import Iterator

import numpy as np

from ..files import write_atomic


def synthetic_frames(num_frames: int, height: int, width: int, seed: int = 0) -> Iterator[np.ndarray]:
    """RGB frames of one synthetic scene whose shapes drift, spin and bounce (occluding each other)."""
    from .synthetic import move, random_scene, render

    rng = np.random.default_rng(seed)
    shapes = random_scene(rng, height, width, max_shapes=7)
    velocities = rng.uniform(-3, 3, (len(shapes), 2)) * (min(height, width) / 512)  # pixels per frame
    spins = rng.uniform(-0.03, 0.03, len(shapes))  # radians per frame
    background_seed = int(rng.integers(0, 2**31))
    for t in range(num_frames):
        yield render(move(shapes, velocities, spins, t, height, width), height, width, background_seed)[0]


def figure_frames(num_frames: int, height: int, width: int, seed: int = 0) -> Iterator[np.ndarray]:
    """RGB frames of walking figures (drifting, swinging their limbs, passing each other) among still shapes."""
    from .figures import move, random_figures, render_figures
    from .synthetic import random_scene, render

    rng = np.random.default_rng(seed)
    background = render(random_scene(rng, height, width, 3, radius_range=(15, 60)), height, width,
                        background_seed=int(rng.integers(0, 2**31)))[0]
    figures = random_figures(rng, height, width, max_figures=4)
    velocities = rng.uniform(-2.5, 2.5, (len(figures), 2)) * (min(height, width) / 512)
    phases = rng.uniform(0, 2 * np.pi, len(figures))
    for t in range(num_frames):
        yield render_figures(move(figures, velocities, phases, t, height, width), background)[0]


FRAMES = {"masks": synthetic_frames, "keypoints": figure_frames}  # the demo's video, per task


def make_video(path: str, num_frames: int = 120, size: int = 512, fps: float = 30.0, seed: int = 0,
               task: str = "masks") -> str:
    """Write the synthetic video (mp4v) of a task unless a complete one is already there. Returns the path."""
    import cv2

    if _video_frames(path) == num_frames:
        return path
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with write_atomic(path, suffix=".tmp.mp4") as tmp:  # an interrupted run never leaves a short video to be reused
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps, (size, size))
        for frame in FRAMES[task](num_frames, size, size, seed):
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
    return path


def _video_frames(path: str) -> int:
    import cv2

    if not os.path.isfile(path):
        return 0
    cap = cv2.VideoCapture(path)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return count
