"""Where results go: a window, an annotated video, JSON Lines of detections, COCO results JSON, MOTChallenge
tracks.

Every sink is written so that closing it after an error leaves a valid file holding every frame
written so far: the video is finalised, each JSONL line is flushed, the COCO file is written whole.
`BackgroundSinks` runs file sinks in a writer thread, beside the next frame's inference.
"""
from __future__ import annotations

import json
import os
import queue
import re
import threading
import time
from array import array

import cv2

from ..errors import UserError
from ..files import write_atomic
from ..rle import encode_rle
from .detections import Detections
from .draw import annotate
from .sources import Frame


class Sink:
    stop_requested = False  # set by a sink the user can close (the window)

    def write(self, frame: Frame, dets: Detections, fps: float) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Return once every frame written so far is out; raise what went wrong doing so."""

    def close(self) -> None:
        pass


class BackgroundSinks(Sink):
    """Sinks run in one writer thread behind a bounded queue, so that drawing, encoding and RLE of a
    frame overlap the next frame's inference (which releases the GIL). Frames are written in order and
    none is dropped: when the writer is `depth` frames behind, write() waits (back-pressure, which the
    stream times as its sink stage). A sink's error stops the writing and is raised by the next write()
    or by flush(); close() closes every sink and raises nothing, since it runs while unwinding."""

    def __init__(self, sinks: list[Sink], depth: int = 2):
        self.sinks = sinks
        self.busy_s = array("d")  # the writer's time per frame
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._error_raised = False
        self._thread = threading.Thread(target=self._write_all, name="mrcnn-edge-sinks", daemon=True)
        self._thread.start()

    def _write_all(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:  # after an error, frames are taken but not written: write() never hangs
                start = time.perf_counter()
                try:
                    for sink in self.sinks:
                        sink.write(*item)
                except BaseException as e:  # raised in the stream's thread by write() or flush()
                    self._error = e
                self.busy_s.append(time.perf_counter() - start)
            self._queue.task_done()
        self._queue.task_done()

    def _raise_error(self) -> None:
        """Raise the writer's error once; it stays set, so nothing after it is ever written."""
        if self._error is not None and not self._error_raised:
            self._error_raised = True
            raise self._error

    def write(self, frame, dets, fps):
        self._raise_error()
        self._queue.put((frame, dets, fps))

    def flush(self):
        self._queue.join()
        self._raise_error()

    def close(self):
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        for sink in self.sinks:
            sink.close()


def _parent_dir(path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


class VideoSink(Sink):
    """Annotated MPEG-4 video (mp4v). Opened on the first frame, whose size it keeps; later frames of
    another size (an image folder) are resized to it."""

    def __init__(self, path: str, fps: float = 30.0):
        _parent_dir(path)
        self.path, self.fps = path, fps
        self._writer = None
        self._size: tuple[int, int] | None = None
        self.frames_written = 0

    def write(self, frame, dets, fps):
        bgr = cv2.cvtColor(annotate(frame.image, dets, fps), cv2.COLOR_RGB2BGR)
        if self._writer is None:
            self._size = (bgr.shape[1], bgr.shape[0])
            self._writer = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self._size)
            if not self._writer.isOpened():
                raise UserError(f"cannot write video {self.path}: check the folder is writable and ends in .mp4")
        if (bgr.shape[1], bgr.shape[0]) != self._size:
            bgr = cv2.resize(bgr, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(bgr)
        self.frames_written += 1

    def close(self):
        if self._writer is not None:
            self._writer.release()  # writes the index: without it the file does not play
            self._writer = None


def detection_rows(dets: Detections) -> list[dict]:
    """A frame's detections as JSON-ready dicts: box x1,y1,x2,y2 in frame pixels, mask as COCO RLE, keypoints
    as [x, y, v] per keypoint with their scores (each where the model has the head), track_id where the run
    tracks. Boxes keep 4 decimals (float32 resolves ~3e-5 px at 512), so two runs compare to 1e-4 from the
    files."""
    names, rects = dets.names(), dets.mask_rects()
    rows = []
    for i in range(len(dets)):
        row = {"box": [round(float(v), 4) for v in dets.boxes[i]], "score": round(float(dets.scores[i]), 5),
               "class_id": int(dets.classes[i]), "class_name": names[i]}
        if dets.masks is not None:
            row["mask"] = encode_rle(dets.masks[i], rects[i])
        if dets.keypoints is not None:
            row["keypoints"] = [[round(float(v), 2) for v in p] for p in dets.keypoints[i]]
            row["keypoint_scores"] = [round(float(v), 4) for v in dets.keypoint_scores[i]]
        if dets.track_ids is not None:
            row["track_id"] = int(dets.track_ids[i])
        rows.append(row)
    return rows


class JsonlSink(Sink):
    """One JSON object per frame and line; each line is flushed, so a crash leaves whole lines only."""

    def __init__(self, path: str):
        _parent_dir(path)
        self.path = path
        self._file = open(path, "w")

    def write(self, frame, dets, fps):
        h, w = frame.image.shape[:2]
        row = {"frame": frame.index, "name": frame.name, "height": h, "width": w, "detections": detection_rows(dets)}
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def close(self):
        self._file.close()


class MotSink(Sink):
    """MOTChallenge results text: one line per tracked detection, `frame,id,x,y,w,h,score,-1,-1,-1`, frames
    1-based (MOTChallenge's: the first frame is 1), box left, top, width, height in frame pixels. Each line is
    flushed with its frame, so a crash leaves whole frames only."""

    def __init__(self, path: str):
        _parent_dir(path)
        self.path = path
        self._file = open(path, "w")

    def write(self, frame, dets, fps):
        if dets.track_ids is None:
            raise UserError(f"{self.path}: MOTChallenge rows need track ids, and these detections have none "
                            "(track them: `run --track`, or runtime.tracking.Tracker)")
        lines = [mot_line(frame.index + 1, int(tid), box, float(score))
                 for box, score, tid in zip(dets.boxes, dets.scores, dets.track_ids) if tid >= 0]
        self._file.write("".join(lines))
        self._file.flush()

    def close(self):
        self._file.close()


def mot_line(frame: int, track_id: int, box, score: float) -> str:
    """One MOTChallenge row; box x1,y1,x2,y2. The three -1 are the 3D position MOTChallenge 2D leaves unset."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return f"{frame},{track_id},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{score:.5f},-1,-1,-1\n"


class CocoResultsSink(Sink):
    """COCO results JSON (what COCO's loadRes reads). image_id is the number in the file name where it
    has one (COCO's 000000397133.jpg is image 397133), else the frame index."""

    def __init__(self, path: str):
        _parent_dir(path)
        self.path = path
        self.rows: list[dict] = []

    def write(self, frame, dets, fps):
        digits = re.fullmatch(r"\D*(\d+)", os.path.splitext(frame.name)[0])
        image_id = int(digits.group(1)) if digits else frame.index
        self.rows += dets.to_coco(image_id)

    def close(self):
        with write_atomic(self.path) as tmp, open(tmp, "w") as f:
            json.dump(self.rows, f)


class WindowSink(Sink):
    """An OpenCV window; q or Esc stops the run."""

    def __init__(self, title: str = "mrcnn-edge"):
        if os.name == "posix" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise UserError("--show needs a display and none is set (DISPLAY is empty): "
                            "write a video with --out instead")
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise UserError("--show needs an OpenCV with GUI support (opencv-python-headless has none): "
                            "pip install opencv-python, or write a video with --out") from None

    def write(self, frame, dets, fps):
        cv2.imshow(self.title, cv2.cvtColor(annotate(frame.image, dets, fps), cv2.COLOR_RGB2BGR))
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            self.stop_requested = True

    def close(self):
        cv2.destroyWindow(self.title)
