"""Frame sources: camera, video file, RTSP/HTTP URL, GStreamer pipeline, image file/folder/glob.

Every source decodes in its own thread into a bounded queue, so decoding the next frame overlaps
inference of this one. The two kinds differ only in what happens when the queue is full:
a *live* source (camera, URL, GStreamer) drops the oldest frame and counts it, because a stale frame
is worth less than a fresh one; a *file* source (video file, images) blocks, so no frame is lost.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import cv2
import numpy as np

from ..errors import UserError
from ..images import IMAGE_EXTENSIONS, image_paths, readable_images

URL_SCHEMES = ("rtsp", "rtsps", "http", "https")
_END = object()  # queue marker: the reader has no more frames


@dataclass
class Frame:
    """One decoded frame. image is RGB uint8 [H,W,3]; timestamp is time.perf_counter() at capture."""
    index: int
    image: np.ndarray
    timestamp: float
    name: str = ""  # the file name for image sources


# A reader returns (RGB image, name) per call, None at the end, and raises UserError on bad input.
Reader = Callable[[], "tuple[np.ndarray, str] | None"]


@dataclass
class Source:
    """A started capture thread and the queue it fills. Iterate with frames()."""
    reader: Reader
    description: str
    live: bool
    queue_size: int = 4
    stall_timeout_s: float = 10.0  # live sources only: no frame for this long is an error
    release: Callable[[], None] = lambda: None
    fps: float = 0.0  # the frame rate the container or device announces; 0 where unknown
    dropped: int = 0
    notes: dict[str, str] = field(default_factory=dict)  # kind -> message: conversions the user should know of
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why): bad images of a folder or glob

    def __post_init__(self):
        self._queue: queue.Queue = queue.Queue(maxsize=self.queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._capture, name="mrcnn-edge-capture", daemon=True)
        self._thread.start()

    def _capture(self) -> None:
        index = 0
        try:
            while not self._stop.is_set():
                item = self.reader()
                if item is None:
                    break
                image, name = item
                frame = Frame(index, image, time.perf_counter(), name)
                self._put_dropping_oldest(frame) if self.live else self._put_blocking(frame)
                index += 1
        except UserError as e:  # delivered in order, after the frames read before it
            self._put_blocking(e)
        except Exception as e:  # a decoder crash must reach the consumer, not die silently in this thread
            self._put_blocking(UserError(f"reading {self.description} failed: {type(e).__name__}: {e}"))
        self._put_blocking(_END)

    def _put_blocking(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _put_dropping_oldest(self, frame: Frame) -> None:
        while True:
            try:
                self._queue.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:  # the consumer took one meanwhile: there is room now
                    pass

    def frames(self) -> Iterator[tuple[Frame, float]]:
        """Yield (frame, seconds spent waiting for it) until the source ends; raises UserError on failure."""
        while True:
            start = time.perf_counter()
            try:
                item = self._queue.get(timeout=self.stall_timeout_s if self.live else None)
            except queue.Empty:
                raise UserError(f"{self.description} delivered no frame for {self.stall_timeout_s:g} s: "
                                "the stream stopped (check the camera or network)") from None
            if item is _END:
                return
            if isinstance(item, UserError):
                raise item
            yield item, time.perf_counter() - start

    def close(self) -> None:
        self._stop.set()
        # A live reader may be blocked inside the decoder; it is a daemon thread, so we do not wait long.
        self._thread.join(timeout=1.0)
        if not self._thread.is_alive():
            self.release()


def open_source(spec: str, *, queue_size: int = 4, stall_timeout_s: float = 10.0, loop: bool = False,
                strict: bool = False) -> Source:
    """Open what --source names and start capturing. `loop` replays a video file forever (benchmarks).

    A folder or glob skips an image that cannot be read (counted and named in `Source.skipped`), so
    one bad file never stops a batch; `strict` makes it an error instead."""
    spec = str(spec)
    if spec.isdigit():
        return _live(_open_capture(cv2.VideoCapture(int(spec)),
                                   f"camera {spec} could not be opened: no such device, or it is busy"),
                     f"camera {spec}", queue_size, stall_timeout_s)
    if "://" in spec:
        return _open_url(spec, queue_size, stall_timeout_s)
    if "!" in spec:
        return _open_gstreamer(spec, queue_size, stall_timeout_s)
    if os.path.isdir(spec):
        return _images(_images_in_folder(spec), spec, queue_size, skip_bad=not strict)
    if any(c in spec for c in "*?["):
        paths = image_paths(spec)
        if not paths:
            raise UserError(f"no image files match {spec!r} (extensions: {', '.join(IMAGE_EXTENSIONS)})")
        return _images(paths, spec, queue_size, skip_bad=not strict)
    if not os.path.isfile(spec):
        raise UserError(f"source not found: {spec} (pass a camera index, video, image, folder, glob or URL)")
    if spec.lower().endswith(IMAGE_EXTENSIONS):
        return _images([spec], spec, queue_size, skip_bad=False)
    return _video_file(spec, queue_size, loop)


def _open_capture(cap: "cv2.VideoCapture", failure: str) -> "cv2.VideoCapture":
    if not cap.isOpened():
        cap.release()
        raise UserError(failure)
    return cap


def _open_url(url: str, queue_size: int, stall_timeout_s: float) -> Source:
    scheme = url.split("://", 1)[0].lower()
    if scheme not in URL_SCHEMES:
        raise UserError(f"unsupported URL scheme '{scheme}://': use one of {', '.join(s + '://' for s in URL_SCHEMES)}")
    # FFmpeg's own open/read timeouts default to 30 s; bound them by ours so a dead server fails fast.
    timeout_ms = int(stall_timeout_s * 1000)
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms,
                                                 cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms])
    cap = _open_capture(cap, f"could not open stream {url}: is the server up and the address right?")
    return _live(cap, url, queue_size, stall_timeout_s)


def _open_gstreamer(pipeline: str, queue_size: int, stall_timeout_s: float) -> Source:
    if "GStreamer:                   YES" not in cv2.getBuildInformation():
        raise UserError("this OpenCV is built without GStreamer (pip's opencv-python is): install an OpenCV "
                        "with GStreamer (e.g. JetPack's python3-opencv) to use a pipeline source")
    cap = _open_capture(cv2.VideoCapture(pipeline, cv2.CAP_GSTREAMER),
                        "GStreamer could not start the pipeline: check it with gst-launch-1.0 (it must end in appsink)")
    return _live(cap, "GStreamer pipeline", queue_size, stall_timeout_s)


def _live(cap: "cv2.VideoCapture", description: str, queue_size: int, stall_timeout_s: float) -> Source:
    def read():
        ok, bgr = cap.read()
        return (cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), "") if ok else None  # a live stream ends when it closes

    return Source(read, description, live=True, queue_size=queue_size, stall_timeout_s=stall_timeout_s,
                  release=cap.release, fps=_announced_fps(cap))


def _announced_fps(cap: "cv2.VideoCapture") -> float:
    fps = cap.get(cv2.CAP_PROP_FPS)
    return float(fps) if 0 < fps < 1000 else 0.0  # some devices report 0 or nonsense


def _video_file(path: str, queue_size: int, loop: bool) -> Source:
    cap = _open_capture(cv2.VideoCapture(path, cv2.CAP_FFMPEG),
                        f"cannot decode video {path}: the file is corrupt, truncated or not a video")
    expected = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))  # from the container header; 0 where unknown
    state = {"read_this_pass": 0, "cap": cap}

    def read():
        ok, bgr = state["cap"].read()
        if not ok:
            _check_complete(path, state["read_this_pass"], expected)
            if not loop:
                return None
            state["cap"].release()
            state["cap"], state["read_this_pass"] = cv2.VideoCapture(path, cv2.CAP_FFMPEG), 0
            ok, bgr = state["cap"].read()
        state["read_this_pass"] += 1
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), ""

    return Source(read, path, live=False, queue_size=queue_size, release=lambda: state["cap"].release(),
                  fps=_announced_fps(cap))


def _check_complete(path: str, frames_read: int, expected: int) -> None:
    """A video that stops before the frame count its header announces is truncated or corrupt."""
    if frames_read == 0:
        raise UserError(f"cannot decode any frame of {path}: the file is corrupt or not a video")
    if expected and frames_read < expected:
        raise UserError(f"{path} stopped after {frames_read} of the {expected} frames its header announces: "
                        "the file is truncated or corrupt (frames before that were processed)")


def _images_in_folder(folder: str) -> list[str]:
    paths = image_paths(folder)
    if not paths:
        raise UserError(f"no image files in {folder} (extensions: {', '.join(IMAGE_EXTENSIONS)})")
    return paths


def _images(paths: list[str], description: str, queue_size: int, skip_bad: bool) -> Source:
    notes: dict[str, str] = {}
    skipped: list[tuple[str, str]] = []
    images = readable_images(paths, skipped if skip_bad else None, notes)

    def read():
        path, image = next(images, (None, None))
        return None if path is None else (image, os.path.basename(path))

    return Source(read, description, live=False, queue_size=queue_size, notes=notes, skipped=skipped)
