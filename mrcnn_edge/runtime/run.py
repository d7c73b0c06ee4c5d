"""`mrcnn-edge run`: stream a source through a deployed model into a video, JSONL, COCO results and a report."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from ..errors import UserError
from ..images import skipped_lines
from . import SCORE_THRESHOLD


@dataclass
class RunResult:
    """A one-source `run`: frames, drops, speed, what it wrote and the inputs it skipped."""

    frames_processed: int
    frames_dropped: int
    fps: float
    p50_ms: float
    p99_ms: float
    backend: str
    precision: str
    input_size: tuple[int, int]
    outputs: dict[str, str] = field(default_factory=dict)  # what -> path: video, jsonl, coco, report, plot
    notes: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why) of images that could not be read

    def summary(self) -> str:
        lines = [f"{self.frames_processed} frames ({self.frames_dropped} dropped) on {self.backend} {self.precision} "
                 f"{self.input_size[0]}x{self.input_size[1]}: {self.fps:.1f} fps, p50 {self.p50_ms:.1f} ms, "
                 f"p99 {self.p99_ms:.1f} ms end to end ({self.fps / 5:.1f}x the paper's 5 fps)"]
        lines += [f"  {what:<7}{path}" for what, path in self.outputs.items()]
        lines += skipped_lines(self.skipped)
        return "\n".join(lines)



def _open_sinks(out, jsonl, coco, show, video_fps, mot=None) -> list:
    """The window in the stream's thread (GUI toolkits want it there, and q must stop the loop at
    once); the files in one writer thread, beside the next frame's inference."""
    from .sinks import BackgroundSinks, CocoResultsSink, JsonlSink, MotSink, VideoSink, WindowSink

    sinks, files = [], []
    try:  # a sink that fails to open must not leave the ones before it open
        if show:
            sinks.append(WindowSink())
        if out:
            files.append(VideoSink(out, fps=video_fps))
        if jsonl:
            files.append(JsonlSink(jsonl))
        if coco:
            files.append(CocoResultsSink(coco))
        if mot:
            files.append(MotSink(mot))
    except BaseException:
        _close_all(sinks + files)
        raise
    return sinks + ([BackgroundSinks(files)] if files else [])


def _close_all(sinks) -> None:
    for sink in sinks:
        sink.close()


def run_stream(model, source, *, out: str | None = None, jsonl: str | None = None, coco: str | None = None,
               report_dir: str | None = None, max_frames: int | None = None, show: bool = False,
               video_fps: float = 30.0, stall_timeout_s: float = 10.0, live_line: bool = True,
               notify=None, score_threshold: float = SCORE_THRESHOLD, cuda_graph: bool = False,
               strict: bool = False, backend: str = "auto", plugin_impl: str | None = None, track: bool = False,
               mot: str | None = None) -> RunResult:
    """Stream `source` (a --source string, or an opened Source) through `model` (a model path, run on
    `backend` and, for a model.trt.onnx, its plugin nodes on `plugin_impl`; or a loaded predictor) into the
    outputs asked for.

    Whatever happens, every output is closed and valid, and the report holds the frames done so far
    (with `"error"` set when the run failed), before the error propagates. A folder or glob skips the
    images it cannot read (named in the summary and report.json) and fails only when none was read;
    `strict` makes any unreadable image an error.

    `track` gives every detection an identity across frames (runtime/tracking.py: ByteTrack, which also reads
    the model's detections below score_threshold, down to its low threshold); `mot` writes the tracks as
    MOTChallenge rows.
    """
    from .latency import LatencyMeter
    from .pipeline import stream
    from .sources import open_source

    notify = notify or (lambda message: print(f"note: {message}", file=sys.stderr))
    from .predictor import Predictor

    from .tracking import check_track_options, tracked_threshold

    check_track_options(track, mot)
    predictor = Predictor.from_path(model, score_threshold=tracked_threshold(score_threshold, track),
                                    cuda_graph=cuda_graph, backend=backend,
                                    plugin_impl=plugin_impl) if isinstance(model, str) else model
    src = open_source(source, stall_timeout_s=stall_timeout_s, strict=strict) if isinstance(source, str) else source
    meter = error = None
    sinks = []
    try:
        sinks = _open_sinks(out, jsonl, coco, show, video_fps, mot)
        meter = LatencyMeter(desc="run", live_line=live_line, total=max_frames)
        stream(src, predictor, sinks, meter, max_frames, tracker=_tracker(track, score_threshold))
        if src.skipped and not len(meter):
            path, why = src.skipped[0]
            raise UserError(f"no image of {src.description} could be read ({len(src.skipped)} skipped; first: {why})")
    except UserError as e:
        error = str(e)
        raise
    except BaseException as e:  # Ctrl-C included: the report still says why the run ended early
        error = f"{type(e).__name__}: {e}"
        raise
    finally:
        src.close()
        _close_all(sinks)
        if meter is not None:
            meter.close()
        for message in src.notes.values():
            notify(message)
        if meter is not None:
            result = _result(meter, src, predictor, model, out, jsonl, coco, report_dir, error, sinks, mot)
    return result


def _tracker(track: bool, score_threshold: float):
    from .tracking import Tracker

    return Tracker(score_threshold) if track else None


def _result(meter, src, predictor, model, out, jsonl, coco, report_dir, error, sinks, mot=None) -> RunResult:
    from .latency import summarize_ms
    from .sinks import BackgroundSinks

    # The writer thread's own time per frame: not part of end to end, which it overlaps.
    writer = [summarize_ms(s.busy_s) for s in sinks if isinstance(s, BackgroundSinks)]
    report = meter.report(frames_dropped=src.dropped, source=src.description, live_source=src.live,
                          model=model if isinstance(model, str) else type(model).__name__,
                          backend=predictor.backend_name, precision=predictor.precision,
                          input_size=list(predictor.input_size), notes=list(src.notes.values()), error=error,
                          sink_writer_ms=writer[0] if writer else None,
                          skipped=[{"file": path, "reason": why} for path, why in src.skipped])
    outputs = {k: v for k, v in (("video", out), ("jsonl", jsonl), ("coco", coco), ("mot", mot)) if v}
    if report_dir:
        title = f"mrcnn-edge run: {predictor.backend_name} {predictor.precision} " \
                f"{predictor.input_size[0]}x{predictor.input_size[1]} on {os.path.basename(src.description)}"
        outputs["report"], outputs["plot"] = meter.write(report_dir, report, title)
    e2e = report["end_to_end_ms"]
    return RunResult(len(meter), src.dropped, report["fps"], e2e["p50"], e2e["p99"], predictor.backend_name,
                     predictor.precision, tuple(predictor.input_size), outputs, list(src.notes.values()),
                     list(src.skipped))
