"""`mrcnn-edge run` with many sources: one model instance, frames of every stream batched into one call.

Threads: each source decodes in its own capture thread (sources.py); a feeder thread per stream moves its
frames into the batcher's lane (batcher.py), where live streams drop their oldest waiting frame and files
wait; this thread takes batches, letterboxes each frame to the model's size, runs the batch in one call
(a batch-N artifact) or frame by frame (a batch-1 artifact, said once), and hands each frame's detections
to its stream's sinks, which write in the stream's own writer thread. A stream that ends or fails is one
line and the others go on; `reconnect` reopens an RTSP/HTTP stream with backoff.

This module sets the run up, runs the inference side and tears it down; the feeder threads are in
stream_feed.py, the report and the preview's figures in stream_result.py, the per-stream state in
stream_state.py.
"""
from __future__ import annotations

import os
import sys
import time

from ..errors import UserError
from .batch_infer import BatchPlan, RequestPool, batch_plan, infer_batch
from .batcher import Batcher
from .preview import PreviewServer, parse_address
from . import SCORE_THRESHOLD
from .stream_feed import StreamFeeder
from .stream_list import StreamSpec, stream_specs
from .stream_result import StreamsReport, StreamsResult
from .stream_state import StreamState

DEFAULT_BATCH_TIMEOUT_MS = 5.0  # as nvstreammux's batched-push-timeout, kept short: latency over fill
RECONNECT_ATTEMPTS = 5  # consecutive failed reopenings before a stream is given up
RECONNECT_BACKOFF_S = (0.5, 8.0)  # first wait, longest wait; doubling in between

# StreamsResult is built in stream_result.py and named here too, where callers have always imported it from
__all__ = ["DEFAULT_BATCH_TIMEOUT_MS", "RECONNECT_ATTEMPTS", "RECONNECT_BACKOFF_S", "StreamsResult", "run_sources",
           "run_streams"]


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
    """Set-up, the inference side (this thread) and tear-down of a run; the feeder threads are the feeder's
    (stream_feed.py) and the figures the report's (stream_result.py)."""

    def __init__(self, predictor, plan: BatchPlan, timeout_s: float, notify, reconnect: bool,
                 max_frames: int | None, open_options: dict, live_line: bool, track_threshold: float | None = None):
        self.predictor, self.plan, self.notify = predictor, plan, notify
        self.track_threshold = track_threshold  # None: no tracking
        self.batcher = Batcher(plan.size, timeout_s)
        self.requests = RequestPool(predictor.backend, plan.size) if plan.concurrent else None
        self.streams: list[StreamState] = []
        # the reconnect policy is read here, at the run's start, so that a caller (a test) may set it beforehand
        self.feed = StreamFeeder(self.batcher, notify, open_options, reconnect=reconnect, max_frames=max_frames,
                                 attempts=RECONNECT_ATTEMPTS, backoff_s=RECONNECT_BACKOFF_S)
        self.report = StreamsReport(self.streams, self.batcher, plan, predictor)
        self.preview: PreviewServer | None = None
        self.error: str | None = None
        self.started = time.perf_counter()
        self.finished: float | None = None
        self._bar = None
        if live_line:
            from tqdm import tqdm

            self._bar = tqdm(desc="run", unit="frame", dynamic_ncols=True, mininterval=0.5)

    # --- set-up -------------------------------------------------------------------------------------
    def open(self, specs: list[StreamSpec], out_dir: str | None, preview: str | None) -> None:
        if preview is not None:
            self.preview = PreviewServer(preview, [s.name for s in specs], self.report.live_stats)
            self.notify(f"preview of {len(specs)} streams at {self.preview.url}")
        for index, spec in enumerate(specs):
            source = self.feed.open_first(spec)
            stream = StreamState(index, spec, source, [])
            if self.track_threshold is not None:
                from .tracking import Tracker

                stream.tracker = Tracker(self.track_threshold)
            self.streams.append(stream)  # before the sinks: a failure below still closes this source
            stream.sinks = self._sinks(stream, out_dir)
            self.batcher.add_stream(index, stream.live)
        self.started = time.perf_counter()
        for stream in self.streams:
            stream.meter.started = self.started
            self.feed.start(stream)

    def _sinks(self, stream: StreamState, out_dir: str | None) -> list:
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

    def _deliver(self, stream: StreamState, frame, dets, stages: dict) -> None:
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

    def _fail(self, stream: StreamState, e: BaseException) -> None:
        """A stream's own failure (its frame, its model call, its sinks): one line; the others go on."""
        if stream.status == "failed":
            return
        message = str(e) if isinstance(e, UserError) else f"{type(e).__name__}: {e}"
        self.batcher.remove_stream(stream.index)
        stream.status = "running"  # so that ended() records this failure, whatever the feeder said
        self.feed.ended(stream, "failed", message)

    def _flush(self, stream: StreamState) -> None:
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
        self.feed.join(timeout_s=2.0)
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

    def result(self, model, out_dir: str | None, report_dir: str | None) -> StreamsResult:
        return self.report.result(model, out_dir, report_dir, started=self.started, finished=self.finished,
                                  error=self.error, preview=self.preview)
