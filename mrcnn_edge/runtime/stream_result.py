"""What a many-stream run (multistream.py) reports: each stream's row, the aggregate, report.json with its
plot, the StreamsResult that `run_streams` returns, and the preview page's live figures, read while the run
goes on."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .batch_infer import BatchPlan
from .batcher import Batcher
from .latency import summarize_ms, write_streams_report
from .stream_state import StreamState

if TYPE_CHECKING:
    from .preview import PreviewServer

_P99_WINDOW = 300  # frames behind the preview's p99


@dataclass
class StreamsResult:
    """A many-stream `run`: each stream's report row, the aggregate throughput and the batch sizes formed."""

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


class StreamsReport:
    """Reads a run's streams, batcher, plan and predictor into figures. `streams` is the run's own list, which
    fills as the streams open: the preview reads it from the first frame on."""

    def __init__(self, streams: list[StreamState], batcher: Batcher, plan: BatchPlan, predictor):
        self.streams, self.batcher, self.plan, self.predictor = streams, batcher, plan, predictor

    def live_stats(self) -> list[dict]:
        """What the preview page shows, read from the run while it goes on."""
        rows = []
        for stream in self.streams:
            recent = stream.meter.end_to_end[-_P99_WINDOW:]
            rows.append({"name": stream.name, "fps": stream.recent_fps(), "p99_ms": summarize_ms(recent)["p99"],
                         "frames": len(stream.meter), "dropped": self.dropped(stream), "status": stream.status})
        return rows

    def dropped(self, stream: StreamState) -> int:
        """Frames the source dropped (its own queue) and frames its lane dropped (a live stream's stale ones)."""
        return stream.dropped + self.batcher.dropped(stream.index)

    def result(self, model, out_dir: str | None, report_dir: str | None, *, started: float, finished: float | None,
               error: str | None, preview: PreviewServer | None) -> StreamsResult:
        """The StreamsResult, and report.json + latency.png written into report_dir when there is one."""
        rows = [self._stream_row(s, out_dir, started) for s in self.streams]
        wall = (finished or time.perf_counter()) - started
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
                      "streams": rows, "aggregate": self._aggregate(rows, wall), "error": error,
                      "preview": {"url": preview.url, "frames_encoded": preview.frames_encoded}
                      if preview else None}
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

    def _stream_row(self, stream: StreamState, out_dir: str | None, started: float) -> dict:
        report = stream.meter.report(frames_dropped=self.dropped(stream))
        row = {"name": stream.name, "source": stream.description, "live_source": stream.live,
               "status": stream.status, "message": stream.message, "frames_captured": stream.captured,
               **{k: report[k] for k in ("frames_processed", "frames_dropped", "wall_s", "fps", "end_to_end_ms",
                                         "stages_ms")},
               "ended_at_s": (stream.last_done or started) - started, "reconnects": stream.reconnects,
               "skipped": [{"file": path, "reason": why} for path, why in getattr(stream.source, "skipped", [])]}
        if out_dir:
            folder = os.path.join(out_dir, stream.name)
            row["outputs"] = {"video": os.path.join(folder, "annotated.mp4"),
                              "jsonl": os.path.join(folder, "detections.jsonl")}
            if stream.tracker is not None:
                row["outputs"]["mot"] = os.path.join(folder, "tracks.mot.txt")
        return row
