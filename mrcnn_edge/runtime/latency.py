"""LatencyMeter: per-frame, per-stage timings, a live progress line, report.json and a latency plot.

Everything is compared with the paper's baseline: 200 ms per frame, i.e. 5 fps.
"""
from __future__ import annotations

import json
import os
import time
from array import array

import numpy as np

from ..files import write_atomic

STAGES = ("capture_wait", "preprocess", "infer", "postprocess", "sink")
BASELINE_MS = 200.0  # the paper's Mask R-CNN: 5 fps
BASELINE_FPS = 1000.0 / BASELINE_MS
_LIVE_WINDOW = 100  # frames behind the live line's p50 and the on-frame fps counter


def summarize_ms(seconds) -> dict:
    """p50/p90/p99/mean/min/max of a series of seconds, in milliseconds."""
    ms = np.asarray(seconds, np.float64) * 1000
    if not len(ms):
        return {k: 0.0 for k in ("p50", "p90", "p99", "mean", "min", "max")}
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "mean": float(ms.mean()),
            "min": float(ms.min()), "max": float(ms.max())}


class LatencyMeter:
    """Records every frame's stage times (seconds). `end_to_end` runs from when the pipeline began
    waiting for the frame to when its sinks finished, so the stages always sum to at most it; the
    gap is the loop's own bookkeeping. Times are kept as float64 arrays: 56 bytes a frame.
    """

    def __init__(self, desc: str = "run", live_line: bool = True, total: int | None = None):
        self.stages = {name: array("d") for name in STAGES}
        self.end_to_end = array("d")
        self.started = time.perf_counter()
        self.finished: float | None = None
        self._bar = None
        if live_line:
            from tqdm import tqdm

            self._bar = tqdm(desc=desc, total=total, unit="frame", dynamic_ncols=True, mininterval=0.5)

    def __len__(self) -> int:
        return len(self.end_to_end)

    def record(self, stage_seconds: dict[str, float], end_to_end: float) -> None:
        for name in STAGES:
            self.stages[name].append(stage_seconds.get(name, 0.0))
        self.end_to_end.append(end_to_end)
        if self._bar is not None:
            self._bar.update(1)
            if len(self) % 10 == 0:
                recent = np.asarray(self.end_to_end[-_LIVE_WINDOW:]) * 1000
                self._bar.set_postfix_str(f"{self.recent_fps():.1f} fps, p50 {np.median(recent):.0f} ms", refresh=False)

    def recent_fps(self) -> float:
        """Frames per second over the last frames: what the on-frame counter shows."""
        recent = self.end_to_end[-_LIVE_WINDOW:]
        return len(recent) / sum(recent) if len(recent) and sum(recent) > 0 else 0.0

    def close(self) -> None:
        if self.finished is None:
            self.finished = time.perf_counter()
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def report(self, frames_dropped: int = 0, **context) -> dict:
        """The run's numbers as a JSON-ready dict; `context` (backend, source, ...) is stored as given."""
        wall = (self.finished or time.perf_counter()) - self.started
        fps = len(self) / wall if wall > 0 else 0.0
        e2e = summarize_ms(self.end_to_end)
        return {
            **context,
            "frames_processed": len(self),
            "frames_dropped": frames_dropped,
            "wall_s": wall,
            "fps": fps,
            "stages_ms": {name: summarize_ms(values) for name, values in self.stages.items()},
            "end_to_end_ms": e2e,
            "baseline": {"latency_ms": BASELINE_MS, "fps": BASELINE_FPS, "what": "the paper's Mask R-CNN"},
            "speedup_vs_baseline_fps": fps / BASELINE_FPS,
            "speedup_vs_baseline_latency": BASELINE_MS / e2e["p50"] if e2e["p50"] > 0 else 0.0,
        }

    def write(self, report_dir: str, report: dict, title: str) -> tuple[str, str]:
        """Write report.json and latency.png into report_dir. Returns their paths."""
        os.makedirs(report_dir, exist_ok=True)
        json_path = os.path.join(report_dir, "report.json")
        with write_atomic(json_path) as tmp, open(tmp, "w") as f:  # a crash never leaves half a report
            json.dump(report, f, indent=2)
        png_path = os.path.join(report_dir, "latency.png")
        plot_latency(self, report, title, png_path)
        return json_path, png_path


def plot_latency(meter: LatencyMeter, report: dict, title: str, path: str) -> None:
    """Left: end-to-end and inference time of every frame. Right: per-stage p50 bars with p99 whiskers."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, (timeline, bars) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1.6, 1]})
    frames = np.arange(len(meter))
    timeline.plot(frames, np.asarray(meter.end_to_end) * 1000, lw=1, color="tab:blue", label="end to end")
    timeline.plot(frames, np.asarray(meter.stages["infer"]) * 1000, lw=1, color="tab:orange", label="infer")
    timeline.axhline(BASELINE_MS, color="tab:red", ls="--", lw=1.2, label=f"paper baseline {BASELINE_MS:.0f} ms (5 fps)")
    top = max(BASELINE_MS, float(np.max(meter.end_to_end, initial=0)) * 1000) * 1.3  # legend room above 200 ms
    timeline.set(xlabel="frame", ylabel="ms", title="latency per frame", ylim=(0, top))
    timeline.legend(loc="upper right", fontsize=8, ncols=3)
    timeline.grid(alpha=0.3)

    names = list(STAGES) + ["end_to_end"]
    stats = [report["stages_ms"][n] for n in STAGES] + [report["end_to_end_ms"]]
    colors = ["tab:gray"] * len(STAGES) + ["tab:blue"]
    colors[STAGES.index("infer")] = "tab:orange"
    if report.get("sink_writer_ms"):  # the writer thread: overlaps the stages, so it is not a part of end to end
        names.append("sink writer\n(overlapped)")
        stats.append(report["sink_writer_ms"])
        colors.append("tab:olive")
    p50 = [s["p50"] for s in stats]
    p99 = [s["p99"] for s in stats]
    y = np.arange(len(names))[::-1]
    bars.barh(y, p50, color=colors, xerr=[np.zeros(len(p50)), np.subtract(p99, p50)], capsize=3)
    for yi, v, v99 in zip(y, p50, p99):
        bars.text(v99, yi, f"  {v:.1f} / {v99:.1f}", va="center", fontsize=8)
    bars.axvline(BASELINE_MS, color="tab:red", ls="--", lw=1.2)
    bars.set_yticks(y, [n.replace("_", " ") for n in names], fontsize=8)
    bars.set(xlabel="ms (bar p50, whisker p99)", title="per stage")
    bars.set_xlim(0, max(BASELINE_MS, max(p99)) * 1.3)
    bars.grid(axis="x", alpha=0.3)

    fig.suptitle(f"{title}\n{report['fps']:.1f} fps, p50 {report['end_to_end_ms']['p50']:.1f} ms end to end: "
                 f"{report['speedup_vs_baseline_fps']:.1f}x the paper's 5 fps "
                 f"({report['frames_processed']} frames, {report['frames_dropped']} dropped)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_streams_report(report_dir: str, report: dict, meters: list[LatencyMeter]) -> tuple[str, str]:
    """A multi-stream run's report.json and latency.png (one panel per stream). Returns their paths."""
    os.makedirs(report_dir, exist_ok=True)
    json_path = os.path.join(report_dir, "report.json")
    with write_atomic(json_path) as tmp, open(tmp, "w") as f:
        json.dump(report, f, indent=2)
    png_path = os.path.join(report_dir, "latency.png")
    plot_streams(meters, report, png_path)
    return json_path, png_path


def plot_streams(meters: list[LatencyMeter], report: dict, path: str) -> None:
    """One panel per stream: capture-to-sink latency and the batch's inference time of every frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["streams"]
    cols = min(len(rows), 2) or 1
    lines = (len(rows) + cols - 1) // cols or 1
    fig, axes = plt.subplots(lines, cols, figsize=(6.5 * cols, 3.4 * lines), squeeze=False)
    top = max([BASELINE_MS] + [float(np.max(m.end_to_end, initial=0)) * 1000 for m in meters]) * 1.3
    for ax, meter, row in zip(axes.flat, meters, rows):
        frames = np.arange(len(meter))
        ax.plot(frames, np.asarray(meter.end_to_end) * 1000, lw=1, color="tab:blue", label="capture to sink")
        ax.plot(frames, np.asarray(meter.stages["infer"]) * 1000, lw=1, color="tab:orange", label="infer (batch)")
        ax.axhline(BASELINE_MS, color="tab:red", ls="--", lw=1, label=f"{BASELINE_MS:.0f} ms (5 fps)")
        e2e = row["end_to_end_ms"]
        status = "" if row["status"] == "finished" else f", {row['status']}"
        ax.set(title=f"{row['name']}: {row['fps']:.1f} fps, p50 {e2e['p50']:.0f} / p99 {e2e['p99']:.0f} ms, "
                     f"{row['frames_dropped']} dropped{status}", xlabel="frame", ylabel="ms", ylim=(0, top))
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=7, ncols=3)
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    agg = report["aggregate"]
    sizes = ", ".join(f"{k}: {v}" for k, v in agg["batch_sizes"].items())
    fig.suptitle(f"mrcnn-edge run: {report['backend']} {report['precision']}, {len(rows)} streams, "
                 f"{agg['throughput_fps']:.1f} fps in all (batch sizes {sizes or 'none'})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
