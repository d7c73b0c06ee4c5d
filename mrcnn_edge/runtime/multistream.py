"""`mrcnn-edge run` with many sources: one model instance, frames of every stream batched into one call.

Threads: each source decodes in its own capture thread (sources.py); a feeder thread per stream moves its
frames into the batcher's lane (batcher.py), where live streams drop their oldest waiting frame and files
wait; this thread takes batches, letterboxes each frame to the model's size, runs the batch in one call
(a batch-N artifact) or frame by frame (a batch-1 artifact, said once), and hands each frame's detections
to its stream's sinks, which write in the stream's own writer thread. A stream that ends or fails is one
line and the others go on; `reconnect` reopens an RTSP/HTTP stream with backoff.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from ..errors import UserError
from .batch_infer import RequestPool, batch_plan, infer_batch
from .batcher import Batcher
from .latency import LatencyMeter, summarize_ms, write_streams_report
from .preview import parse_address
from . import SCORE_THRESHOLD
from .stream_list import StreamSpec, stream_specs

DEFAULT_BATCH_TIMEOUT_MS = 5.0  # as nvstreammux's batched-push-timeout, kept short: latency over fill
RECONNECT_ATTEMPTS = 5  # consecutive failed reopenings before a stream is given up
RECONNECT_BACKOFF_S = (0.5, 8.0)  # first wait, longest wait; doubling in between
_FPS_WINDOW = 30  # frames behind each stream's fps figure (the on-frame counter, the preview)
_P99_WINDOW = 300  # frames behind the preview's p99


@dataclass
class StreamsResult:
    streams: list[dict]  # each stream's report row
    frames_processed: int
    throughput_fps: float
    batch_sizes: dict[int, int]
    batched: bool
    backend: str
    precision: str
    input_size: tuple[int, int]
    concurrent: bool = False  # one request a frame, all of a batch at once (Triton)
    outputs: dict[str, str] = field(default_factory=dict)
    meters: list = field(default_factory=list, repr=False)  # each stream's LatencyMeter: every frame's times

    def summary(self) -> str:
        lines = [f"  {s['name']}: {s['frames_processed']} frames ({s['frames_dropped']} dropped), {s['fps']:.1f} fps, "
                 f"p50 {s['end_to_end_ms']['p50']:.1f} ms, p99 {s['end_to_end_ms']['p99']:.1f} ms capture to sink"
                 + ("" if s["status"] == "finished" else f" [{s['status']}: {s['message']}]") for s in self.streams]
        sizes = ", ".join(f"{size}: {n}" for size, n in sorted(self.batch_sizes.items()))
        how = "concurrent requests" if self.concurrent else "batched" if self.batched else "one by one"
        head = (f"{len(self.streams)} streams, {self.frames_processed} frames on {self.backend} {self.precision} "
                f"{self.input_size[0]}x{self.input_size[1]}, {how} (batch sizes {sizes or 'none'}): "
                f"{self.throughput_fps:.1f} fps in all")
        return "\n".join([head, *lines, *(f"  {what:<7}{path}" for what, path in self.outputs.items())])


class _Stream:
    """One stream during the run: its source, lane key, sinks, meter and fate."""

    def __init__(self, index: int, spec: StreamSpec, source, sinks: list):
        self.index, self.name, self.spec = index, spec.name, spec
        self.source = source
        self.description = getattr(source, "description", str(spec.source))
        self.live = bool(getattr(source, "live", True))
        self.sinks = sinks
        self.tracker = None  # its own: identities never cross streams; a reconnection keeps it
        self.meter = LatencyMeter(desc=self.name, live_line=False)
        self.status, self.message = "running", ""
        self.captured = 0  # frames read from the source(s), renumbered across reconnects
        self.dropped_by_old_sources = 0
        self.reconnects = 0
        self.last_done: float | None = None
        self._done_at: deque = deque(maxlen=_FPS_WINDOW)

    @property
    def dropped(self) -> int:
        return self.dropped_by_old_sources + (self.source.dropped if self.source is not None else 0)

    def recent_fps(self) -> float:
        done = self._done_at
        return (len(done) - 1) / (done[-1] - done[0]) if len(done) > 1 and done[-1] > done[0] else 0.0

    def delivered(self, when: float) -> None:
        self._done_at.append(when)
        self.last_done = when

    def end(self, status: str, message: str = "") -> None:
        if self.status == "running":
            self.status, self.message = status, message


def run_sources(model, sources: list | None = None, *, sources_file: str | None = None, out: str | None = None,
                jsonl: str | None = None, coco: str | None = None, report_dir: str | None = None,
                out_dir: str | None = None, preview: str | None = None, batch_timeout_ms: float | None = None,
                max_batch: int | None = None, reconnect: bool = False, **options):
    """What `mrcnn-edge run` does: one plain --source keeps the single-stream run (run.py); several sources,
    --sources, --out-dir or --preview run them all through run_streams."""
    from .run import run_stream

    multi = (sources_file or out_dir or preview or reconnect or (sources and len(sources) > 1)
             or batch_timeout_ms is not None or max_batch is not None)
    if not multi:
        if not sources:
            raise UserError("no source given: pass --source (one or more times) or --sources FILE")
        return run_stream(model, sources[0], out=out, jsonl=jsonl, coco=coco, report_dir=report_dir, **options)
    mot = options.pop("mot", None)
    single_outputs = [flag for flag, value in (("--out", out), ("--jsonl", jsonl), ("--coco", coco), ("--mot", mot))
                      if value]
    if single_outputs:
        raise UserError(f"{', '.join(single_outputs)} name one stream's file: with several streams, --preview or "
                        "--reconnect, pass --out-dir DIR (it gets DIR/<stream>/annotated.mp4 and detections.jsonl, "
                        "and tracks.mot.txt with --track)")
    if options.pop("show", False):
        raise UserError("--show opens one window for one stream: with several streams or --preview, watch them "
                        "in a browser with --preview PORT")
    return run_streams(model, stream_specs(sources, sources_file), out_dir=out_dir, report_dir=report_dir,
                       preview=preview, reconnect=reconnect, max_batch=max_batch,
                       batch_timeout_ms=DEFAULT_BATCH_TIMEOUT_MS if batch_timeout_ms is None else batch_timeout_ms,
                       **options)


def run_streams(model, specs: list[StreamSpec], *, out_dir: str | None = None, report_dir: str | None = None,
                preview: str | None = None, batch_timeout_ms: float = DEFAULT_BATCH_TIMEOUT_MS,
                max_batch: int | None = None, reconnect: bool = False, max_frames: int | None = None,
                stall_timeout_s: float = 10.0, live_line: bool = True, notify=None,
                score_threshold: float = SCORE_THRESHOLD, cuda_graph: bool = False, strict: bool = False,
                backend: str = "auto", plugin_impl: str | None = None, track: bool = False) -> StreamsResult:
    """Run every stream of `specs` through one `model` (a path run on `backend`, plugin nodes on `plugin_impl`,
    or a loaded predictor).
    Writes out_dir/<stream>/annotated.mp4 and detections.jsonl (and tracks.mot.txt with `track`: one tracker
    per stream, kept across its reconnections), and report.json + latency.png into report_dir (default
    out_dir). Raises UserError, after writing everything, only when no stream finished."""
    from .predictor import Predictor
    from .tracking import tracked_threshold

    notify = notify or (lambda message: print(f"note: {message}", file=sys.stderr))
    if batch_timeout_ms < 0:
        raise UserError(f"--batch-timeout is a wait in milliseconds, 0 or more, not {batch_timeout_ms:g}")
    if max_batch is not None and max_batch < 1:
        raise UserError(f"--max-batch must be 1 or more, not {max_batch}")
    if preview is not None:
        parse_address(preview)  # a bad address is refused before the model takes seconds to load
    predictor = Predictor.from_path(model, score_threshold=tracked_threshold(score_threshold, track),
                                    cuda_graph=cuda_graph, backend=backend,
                                    plugin_impl=plugin_impl) if isinstance(model, str) else model
    plan = batch_plan(predictor, len(specs), max_batch)
    if plan.note:
        notify(plan.note)
    open_options = {"stall_timeout_s": stall_timeout_s, "strict": strict}
    run = _MultiRun(predictor, plan, batch_timeout_ms / 1000, notify, reconnect, max_frames, open_options, live_line,
                    score_threshold if track else None)
    try:
        run.open(specs, out_dir, preview)
        run.schedule()
    except BaseException as e:  # Ctrl-C included: the report still says why the run ended early
        run.error = str(e) if isinstance(e, UserError) else f"{type(e).__name__}: {e}"
        raise
    finally:
        run.close()
        result = run.result(model, out_dir, report_dir or out_dir)
    if result.streams and all(s["status"] == "failed" for s in result.streams):
        first = result.streams[0]
        raise UserError(f"every stream failed (first, {first['name']}: {first['message']})")
    return result


class _MultiRun:
    def __init__(self, predictor, plan: BatchPlan, timeout_s: float, notify, reconnect: bool,
                 max_frames: int | None, open_options: dict, live_line: bool, track_threshold: float | None = None):
        self.predictor, self.plan, self.notify = predictor, plan, notify
        self.track_threshold = track_threshold  # None: no tracking
        self.reconnect, self.max_frames, self.open_options = reconnect, max_frames, open_options
        self.batcher = Batcher(plan.size, timeout_s)
        self.requests = RequestPool(predictor.backend, plan.size) if plan.concurrent else None
        self.streams: list[_Stream] = []
        self.feeders: list[threading.Thread] = []
        self.preview = None
        self.error: str | None = None
        self.started = time.perf_counter()
        self.finished: float | None = None
        self._bar = None
        if live_line:
            from tqdm import tqdm

            self._bar = tqdm(desc="run", unit="frame", dynamic_ncols=True, mininterval=0.5)

    # --- set-up -------------------------------------------------------------------------------------
    def open(self, specs: list[StreamSpec], out_dir: str | None, preview: str | None) -> None:
        from .preview import PreviewServer

        if preview is not None:
            self.preview = PreviewServer(preview, [s.name for s in specs], self.live_stats)
            self.notify(f"preview of {len(specs)} streams at {self.preview.url}")
        for index, spec in enumerate(specs):
            source = self._open_first(spec)
            stream = _Stream(index, spec, source, [])
            if self.track_threshold is not None:
                from .tracking import Tracker

                stream.tracker = Tracker(self.track_threshold)
            self.streams.append(stream)  # before the sinks: a failure below still closes this source
            stream.sinks = self._sinks(stream, out_dir)
            self.batcher.add_stream(index, stream.live)
        self.started = time.perf_counter()
        for stream in self.streams:
            stream.meter.started = self.started
            feeder = threading.Thread(target=self._feed, args=(stream,), name=f"mrcnn-edge-feed-{stream.name}",
                                      daemon=True)
            feeder.start()
            self.feeders.append(feeder)

    def _open_first(self, spec: StreamSpec):
        if not isinstance(spec.source, str):
            return spec.source
        try:
            return self._open(spec.source)
        except UserError as e:
            if self.reconnect and _reconnectable(spec.source):
                self.notify(f"stream {spec.name}: {e}; retrying (--reconnect)")
                return None  # the feeder keeps trying
            raise UserError(f"stream {spec.name}: {e}") from None

    def _open(self, spec: str):
        from .sources import open_source

        return open_source(spec, **self.open_options)

    def _sinks(self, stream: _Stream, out_dir: str | None) -> list:
        from .sinks import BackgroundSinks, JsonlSink, MotSink, VideoSink

        files = []
        if out_dir:
            folder = os.path.join(out_dir, stream.name)
            fps = getattr(stream.source, "fps", 0.0) or 30.0
            files += [VideoSink(os.path.join(folder, "annotated.mp4"), fps=fps),
                      JsonlSink(os.path.join(folder, "detections.jsonl"))]
            if stream.tracker is not None:
                files.append(MotSink(os.path.join(folder, "tracks.mot.txt")))
        if self.preview is not None:
            files.append(self.preview.sink(stream.index))
        return [BackgroundSinks(files)] if files else []

    # --- capture side: one feeder thread per stream -----------------------------------------------------
    def _feed(self, stream: _Stream) -> None:
        failures = 0
        while True:
            status, message, read = self._feed_source(stream)
            if status is None:  # removed downstream, stopped, or max frames reached
                break
            failures = 0 if read else failures + 1  # a reopening that delivered frames starts the count again
            if not (self.reconnect and _reconnectable(stream.spec.source)) or failures >= RECONNECT_ATTEMPTS:
                self._ended(stream, status, message)
                break
            wait = min(RECONNECT_BACKOFF_S[0] * 2 ** failures, RECONNECT_BACKOFF_S[1])
            self.notify(f"stream {stream.name}: {message}; reconnecting in {wait:g} s "
                        f"(try {failures + 1} of {RECONNECT_ATTEMPTS})")
            time.sleep(wait)
            stream.reconnects += 1
        self.batcher.close_stream(stream.index)

    def _feed_source(self, stream: _Stream) -> tuple[str | None, str, int]:
        """Move one source's frames into the lane. Returns (status or None to stop, message, frames read)."""
        read = 0
        try:
            if stream.source is None:
                stream.source = self._open(stream.spec.source)
            for frame, _ in stream.source.frames():
                frame.index = stream.captured  # the stream's own numbering, continued across reconnects
                stream.captured += 1
                read += 1
                if not self.batcher.put(stream.index, frame):
                    return None, "", read
                if self.max_frames is not None and stream.captured >= self.max_frames:
                    stream.end("finished")
                    return None, "", read
            return ("closed", "the live stream closed (a network drop, or the camera is gone)", read) \
                if stream.live else ("finished", "", read)
        except UserError as e:
            return "failed", str(e), read
        except Exception as e:  # a decoder crash is this stream's failure, never the others'
            return "failed", f"{type(e).__name__}: {e}", read
        finally:
            if stream.status == "running" and self.reconnect and stream.source is not None \
                    and _reconnectable(stream.spec.source):
                stream.dropped_by_old_sources += stream.source.dropped
                stream.source.close()
                stream.source = None

    def _ended(self, stream: _Stream, status: str, message: str) -> None:
        stream.end(status, message)
        if status != "finished":
            verb = "ended" if status == "closed" else status
            self.notify(f"stream {stream.name} ({stream.description}) {verb} after {stream.captured} frames: "
                        f"{message}; the other streams go on")

    # --- inference side: this thread ---------------------------------------------------------------------
    def schedule(self) -> None:
        while batch := self.batcher.next_batch():
            self._run_batch(batch)
        self.finished = time.perf_counter()
        for stream in self.streams:
            self._flush(stream)

    def _run_batch(self, batch: list) -> None:
        clock = time.perf_counter
        start = clock()
        items = []
        for index, frame in batch:
            stream = self.streams[index]
            t0 = clock()
            try:
                images, meta = self.predictor.preprocess(frame.image)
            except Exception as e:
                self._fail(stream, e)
                continue
            items.append((stream, frame, images, meta, clock() - t0))
        t_infer = clock()
        outputs = infer_batch(self.predictor, [item[2] for item in items], self.plan, self.requests)
        infer_s = clock() - t_infer
        for (stream, frame, _, meta, pre_s), out in zip(items, outputs):
            if isinstance(out, Exception):
                self._fail(stream, out)
                continue
            t0 = clock()
            try:
                dets = self.predictor.postprocess(out[0], meta, out[1])
                if stream.tracker is not None:  # frame.index runs on across drops and reconnections: a gap
                    dets = stream.tracker.update(dets, frame.index)
            except Exception as e:
                self._fail(stream, e)
                continue
            t1 = clock()
            self._deliver(stream, frame, dets, {"capture_wait": start - frame.timestamp, "preprocess": pre_s,
                                                "infer": infer_s, "postprocess": t1 - t0})

    def _deliver(self, stream: _Stream, frame, dets, stages: dict) -> None:
        if stream.status == "failed":
            return
        t0 = time.perf_counter()
        try:
            for sink in stream.sinks:
                sink.write(frame, dets, stream.recent_fps())
        except Exception as e:
            self._fail(stream, e)
            return
        done = time.perf_counter()
        stages["sink"] = done - t0
        stream.meter.record(stages, end_to_end=done - frame.timestamp)  # capture to sink
        stream.delivered(done)
        if self._bar is not None:
            self._bar.update(1)

    def _fail(self, stream: _Stream, e: BaseException) -> None:
        """A stream's own failure (its frame, its model call, its sinks): one line; the others go on."""
        if stream.status == "failed":
            return
        message = str(e) if isinstance(e, UserError) else f"{type(e).__name__}: {e}"
        self.batcher.remove_stream(stream.index)
        stream.status = "running"  # so that _ended records this failure, whatever the feeder said
        self._ended(stream, "failed", message)

    def _flush(self, stream: _Stream) -> None:
        try:
            for sink in stream.sinks:
                sink.flush()
        except Exception as e:
            self._fail(stream, e)

    # --- tear-down ---------------------------------------------------------------------------------------
    def close(self) -> None:
        self.batcher.stop()
        if self.finished is None:
            self.finished = time.perf_counter()
        for feeder in self.feeders:
            feeder.join(timeout=2.0)
        for stream in self.streams:
            for sink in stream.sinks:
                sink.close()
            if stream.source is not None:
                stream.source.close()
                for message in stream.source.notes.values():
                    self.notify(f"stream {stream.name}: {message}")
            stream.end("failed" if self.error else "finished", self.error or "")
            stream.meter.finished = stream.last_done or self.started
            stream.meter.close()
        if self.preview is not None:
            self.preview.close()
        if self.requests is not None:
            self.requests.close()
        if self._bar is not None:
            self._bar.close()

    def live_stats(self) -> list[dict]:
        """What the preview page shows, read from the run while it goes on."""
        rows = []
        for stream in self.streams:
            recent = stream.meter.end_to_end[-_P99_WINDOW:]
            rows.append({"name": stream.name, "fps": stream.recent_fps(), "p99_ms": summarize_ms(recent)["p99"],
                         "frames": len(stream.meter), "dropped": self._dropped(stream), "status": stream.status})
        return rows

    def _dropped(self, stream: _Stream) -> int:
        return stream.dropped + self.batcher.dropped(stream.index)

    def result(self, model, out_dir: str | None, report_dir: str | None) -> StreamsResult:
        rows = [self._stream_row(s, out_dir) for s in self.streams]
        wall = (self.finished or time.perf_counter()) - self.started
        frames = sum(r["frames_processed"] for r in rows)
        p = self.predictor
        result = StreamsResult(rows, frames, frames / wall if wall > 0 else 0.0, dict(self.batcher.batch_sizes),
                               self.plan.batched, p.backend_name, p.precision, tuple(p.input_size),
                               concurrent=self.plan.concurrent, meters=[s.meter for s in self.streams])
        if out_dir:
            result.outputs["dir"] = out_dir
        if report_dir:
            report = {"model": model if isinstance(model, str) else type(model).__name__, "backend": p.backend_name,
                      "precision": p.precision, "input_size": list(p.input_size), "batched": self.plan.batched,
                      "concurrent_requests": self.plan.concurrent,
                      "max_batch": self.plan.size, "batch_timeout_ms": self.batcher.timeout_s * 1000,
                      "streams": rows, "aggregate": self._aggregate(rows, wall), "error": self.error,
                      "preview": {"url": self.preview.url, "frames_encoded": self.preview.frames_encoded}
                      if self.preview else None}
            result.outputs["report"], result.outputs["plot"] = write_streams_report(
                report_dir, report, [s.meter for s in self.streams])
        return result

    def _aggregate(self, rows: list[dict], wall: float) -> dict:
        frames = sum(r["frames_processed"] for r in rows)
        return {"frames_processed": frames, "frames_dropped": sum(r["frames_dropped"] for r in rows), "wall_s": wall,
                "throughput_fps": frames / wall if wall > 0 else 0.0,
                "batch_sizes": {str(k): v for k, v in sorted(self.batcher.batch_sizes.items())},
                "streams_finished": sum(r["status"] == "finished" for r in rows),
                "streams_lost": sum(r["status"] != "finished" for r in rows)}

    def _stream_row(self, stream: _Stream, out_dir: str | None) -> dict:
        report = stream.meter.report(frames_dropped=self._dropped(stream))
        row = {"name": stream.name, "source": stream.description, "live_source": stream.live,
               "status": stream.status, "message": stream.message, "frames_captured": stream.captured,
               **{k: report[k] for k in ("frames_processed", "frames_dropped", "wall_s", "fps", "end_to_end_ms",
                                         "stages_ms")},
               "ended_at_s": (stream.last_done or self.started) - self.started, "reconnects": stream.reconnects,
               "skipped": [{"file": path, "reason": why} for path, why in getattr(stream.source, "skipped", [])]}
        if out_dir:
            folder = os.path.join(out_dir, stream.name)
            row["outputs"] = {"video": os.path.join(folder, "annotated.mp4"),
                              "jsonl": os.path.join(folder, "detections.jsonl")}
            if stream.tracker is not None:
                row["outputs"]["mot"] = os.path.join(folder, "tracks.mot.txt")
        return row


def _reconnectable(source) -> bool:
    return isinstance(source, str) and "://" in source
