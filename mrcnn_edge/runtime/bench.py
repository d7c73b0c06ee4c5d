"""`mrcnn-edge bench`: latency and throughput of a deployed model on real frames, optionally against eager.

Frames are decoded into memory first, so only the predictor is timed: warm-up, then N iterations of
preprocess -> infer -> postprocess cycling over the frames.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

from .latency import BASELINE_FPS, LatencyMeter, summarize_ms
from . import SCORE_THRESHOLD


@dataclass
class BenchResult:
    """`mrcnn-edge bench`: one artifact's latency on one backend (and eager's on the same frames, if asked)."""

    model: str
    backend: str
    precision: str
    input_size: tuple[int, int]
    iterations: int
    latency_ms: dict  # min/p50/p90/p99/max/mean of one frame through the predictor
    infer_ms: dict  # the same, infer stage alone
    throughput_fps: float
    speedup_vs_5fps: float
    eager_latency_ms: dict | None = None
    speedup_vs_eager: float | None = None  # eager p50 / our p50 on the same frames
    outputs: dict | None = None

    def markdown_row(self) -> str:
        eager = f"{self.speedup_vs_eager:.2f}x" if self.speedup_vs_eager else "-"
        return (f"| {os.path.basename(self.model)} | {self.backend} | {self.precision} | {self.input_size[0]}x"
                f"{self.input_size[1]} | {self.latency_ms['p50']:.1f} | {self.latency_ms['p99']:.1f} | "
                f"{self.throughput_fps:.1f} | {self.speedup_vs_5fps:.1f}x | {eager} |")

    def summary(self) -> str:
        header = ("| model | backend | precision | input | p50 ms | p99 ms | fps | vs 5 fps | vs eager |\n"
                  "|---|---|---|---|---|---|---|---|---|")
        lat = self.latency_ms
        lines = [f"{self.iterations} iterations: min {lat['min']:.1f} / p50 {lat['p50']:.1f} / p90 {lat['p90']:.1f} "
                 f"/ p99 {lat['p99']:.1f} / max {lat['max']:.1f} ms, {self.throughput_fps:.1f} fps "
                 f"({self.speedup_vs_5fps:.1f}x the paper's 5 fps)", "", header, self.markdown_row()]
        lines += [""] + [f"  {what:<7}{path}" for what, path in (self.outputs or {}).items()]
        return "\n".join(lines)


def load_frames(video: str, limit: int) -> list:
    """Up to `limit` RGB frames of a video, decoded up front."""
    from .sources import open_source

    source = open_source(video)
    try:
        frames = []
        for frame, _ in source.frames():
            frames.append(frame.image)
            if len(frames) >= limit:
                break
        return frames
    finally:
        source.close()


def time_predictor(predictor, frames: list, warmup: int, iterations: int) -> LatencyMeter:
    """Per-stage times of `iterations` frames after `warmup` untimed ones."""
    for i in range(warmup):
        predictor(frames[i % len(frames)])
    meter = LatencyMeter(desc="bench", total=iterations)
    clock = time.perf_counter
    for i in range(iterations):
        t0 = clock()
        batch, meta = predictor.preprocess(frames[i % len(frames)])
        t1 = clock()
        raw = predictor.infer(batch)
        t2 = clock()
        predictor.postprocess(raw, meta)
        t3 = clock()
        meter.record({"preprocess": t1 - t0, "infer": t2 - t1, "postprocess": t3 - t2}, end_to_end=t3 - t0)
    meter.close()
    return meter


def time_eager(checkpoint: str, frames: list, warmup: int, iterations: int) -> list[float]:
    """Seconds per frame of torchvision's eager model (the oracle) on the same frames."""
    from ..model.checkpoint import load_model
    from ..model.eager import EagerPredictor

    model, _ = load_model(checkpoint)
    eager = EagerPredictor(model)
    for i in range(warmup):
        eager(frames[i % len(frames)])
    seconds = []
    for i in range(iterations):
        t0 = time.perf_counter()
        eager(frames[i % len(frames)])
        seconds.append(time.perf_counter() - t0)
    return seconds


def bench(model, *, video: str | None = None, warmup: int = 5, iterations: int = 50, vs_eager: bool = False,
          checkpoint: str | None = None, out_dir: str = "bench_out", score_threshold: float = SCORE_THRESHOLD,
          cuda_graph: bool = False, backend: str = "auto", plugin_impl: str | None = None) -> BenchResult:
    """Benchmark `model` (a path, run on `backend` and, for a model.trt.onnx, its plugin nodes on `plugin_impl`;
    or a loaded predictor); writes bench.json, latency.png and bench.md into out_dir."""
    from ..data.video import make_video
    from .predictor import Predictor

    predictor = Predictor.from_path(model, score_threshold=score_threshold, cuda_graph=cuda_graph, backend=backend,
                                    plugin_impl=plugin_impl) if isinstance(model, str) else model
    video = video or make_video(os.path.join(out_dir, "bench_frames.mp4"), num_frames=30,
                                size=max(predictor.input_size))
    frames = load_frames(video, limit=max(iterations, warmup))
    meter = time_predictor(predictor, frames, warmup, iterations)
    report = meter.report(model=str(model), backend=predictor.backend_name, precision=predictor.precision)
    result = BenchResult(str(model), predictor.backend_name, predictor.precision, tuple(predictor.input_size),
                         iterations, report["end_to_end_ms"], report["stages_ms"]["infer"], report["fps"],
                         report["fps"] / BASELINE_FPS)
    if vs_eager:
        from ..model.zoo import default_checkpoint

        result.eager_latency_ms = summarize_ms(time_eager(checkpoint or default_checkpoint(), frames, warmup,
                                                          iterations))
        result.speedup_vs_eager = result.eager_latency_ms["p50"] / result.latency_ms["p50"]
    result.outputs = _write(result, meter, report, out_dir)
    return result


def _write(result: BenchResult, meter: LatencyMeter, report: dict, out_dir: str) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    title = f"mrcnn-edge bench: {result.backend} {result.precision} {result.input_size[0]}x{result.input_size[1]}"
    _, plot = meter.write(out_dir, report, title)
    json_path = os.path.join(out_dir, "bench.json")
    with open(json_path, "w") as f:
        json.dump({k: v for k, v in asdict(result).items() if k != "outputs"}, f, indent=2)
    md_path = os.path.join(out_dir, "bench.md")
    with open(md_path, "a") as f:  # appends, so runs of several models build one table
        f.write(result.markdown_row() + "\n")
    return {"json": json_path, "plot": plot, "row": md_path}
