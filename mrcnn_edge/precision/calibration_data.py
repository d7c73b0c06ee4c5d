"""Calibration images: from a folder or glob, frames of a video, or the synthetic generator.

Images are decoded by the toolkit's one image reader and placed by its one letterbox (both in the
bottom layer), so calibration sees exactly what inference sees.
"""
from __future__ import annotations

import glob
import itertools
import os
from typing import Iterator

import cv2
import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from ..data.synthetic import CALIB, sample
from ..errors import UserError
from ..images import IMAGE_EXTENSIONS, image_paths, readable_images
from ..letterbox import letterbox

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".ts")


def _image_paths(source: str) -> list[str]:
    paths = image_paths(source)
    if not paths:
        raise UserError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in calibration source {source}: "
                        "pass a folder of images, a glob, a video or 'synthetic'")
    return paths


def _readable_images(paths: list[str], num_images: int, skipped: list | None) -> Iterator[np.ndarray]:
    """The first num_images of paths that decode (readable_images: the others skipped, or raised with strict)."""
    return (image for _, image in itertools.islice(readable_images(paths, skipped), num_images))


def _video_frames(path: str, num_images: int) -> Iterator[np.ndarray]:
    capture = cv2.VideoCapture(path)
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    if not capture.isOpened() or total <= 0:
        raise UserError(f"cannot read calibration video {path}: the file is corrupt or the codec unsupported")
    for index in np.linspace(0, total - 1, min(num_images, total)).astype(int):  # spread over the video
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, frame = capture.read()
        if not ok:
            raise UserError(f"calibration video {path} ends early at frame {index} of {total}: it is truncated")
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    capture.release()


def calibration_frames(source: str, num_images: int, skipped: list | None = None) -> Iterator[np.ndarray]:
    """Up to num_images RGB frames from `source`: 'synthetic' (the shapes' calibration split), 'figures' (the
    keypoint figures'), a video file, a folder or a glob. Unreadable images of a folder or glob are skipped
    into `skipped` (an error when it is None)."""
    if source == "synthetic":
        return (sample(CALIB, i)[0] for i in range(num_images))
    if source == "figures":
        from ..data import figures

        return (figures.sample(figures.CALIB, i)[0] for i in range(num_images))
    if os.path.isfile(source) and source.lower().endswith(VIDEO_SUFFIXES):
        return _video_frames(source, num_images)
    if not (os.path.isdir(source) or glob.glob(source)):
        raise UserError(f"calibration source not found: {source} (a folder, glob, video or 'synthetic')")
    return _readable_images(_image_paths(source), num_images, skipped)


class LetterboxedReader(CalibrationDataReader):
    """ONNX Runtime's calibration reader over frames letterboxed to the model's input size."""

    def __init__(self, frames: list[np.ndarray], size: tuple[int, int], input_name: str = "images"):
        self.frames, self.size, self.input_name = iter(frames), size, input_name

    def get_next(self) -> dict | None:
        frame = next(self.frames, None)
        return None if frame is None else {self.input_name: letterbox(frame, self.size)[0]}
