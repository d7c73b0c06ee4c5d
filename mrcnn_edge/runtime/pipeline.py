"""The streaming loop: source -> preprocess -> infer -> postprocess (-> tracker) -> sinks, timed per stage.

Capture and decoding run in the source's own thread, so they overlap inference (which releases the
GIL); this loop only does the per-frame work that needs the previous stage's result.
"""
from __future__ import annotations

import time

from .latency import LatencyMeter
from .sinks import Sink
from .sources import Source


def stream(source: Source, predictor, sinks: list[Sink], meter: LatencyMeter, max_frames: int | None = None,
           tracker=None) -> None:
    """Run every frame of `source` through `predictor` (and `tracker`, a runtime.tracking.Tracker, whose time
    counts as postprocess) into `sinks` until the source ends, max_frames frames are done or a sink asks to
    stop, then flush the sinks. Errors propagate; the caller closes sinks and source."""
    clock = time.perf_counter
    waiting_since = clock()
    for frame, wait in source.frames():
        t0 = clock()
        batch, meta = predictor.preprocess(frame.image)
        t1 = clock()
        raw = predictor.infer(batch)
        t2 = clock()
        dets = predictor.postprocess(raw, meta)
        if tracker is not None:  # the frame's own index: frames a live source dropped are a gap in time
            dets = tracker.update(dets, frame.index)
        t3 = clock()
        fps = meter.recent_fps()
        for sink in sinks:
            sink.write(frame, dets, fps)
        t4 = clock()
        meter.record({"capture_wait": wait, "preprocess": t1 - t0, "infer": t2 - t1, "postprocess": t3 - t2,
                      "sink": t4 - t3}, end_to_end=t4 - waiting_since)
        waiting_since = clock()
        if (max_frames is not None and len(meter) >= max_frames) or any(s.stop_requested for s in sinks):
            break
    for sink in sinks:
        sink.flush()
