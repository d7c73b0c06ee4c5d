"""`mrcnn-edge bench --streams 1,2,4,8`: aggregate throughput and p99 per stream count, batched against one
by one, through the same scheduler `run` uses (multistream.py).

Each stream replays frames decoded once into memory (file semantics: nothing dropped), so decoding is not
timed and every row sees the same frames. "one by one" is the same model and scheduler with batches of 1.
The streams saturate the model, so capture-to-sink latency includes the frames' wait in their queues
(the source's 4 plus the lane's 2): p99 is what a full pipeline adds, not one call's time; the table also
gives the p99 of the batch's inference call. The CPU's ISA and the load average are recorded beside them.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from ..errors import UserError
from . import SCORE_THRESHOLD

ISA_FLAGS = {"avx2": "AVX2", "avx512f": "AVX-512F", "avx512_vnni": "AVX-512 VNNI", "avx512_bf16": "AVX-512 BF16",
             "avx_vnni": "AVX-VNNI", "amx_bf16": "AMX-BF16", "amx_int8": "AMX-INT8", "avx512_fp16": "AVX-512 FP16"}


def cpu_isa() -> list[str]:
    """The vector extensions of this CPU that matter to the CPU backends, from /proc/cpuinfo's flags."""
    try:
        with open("/proc/cpuinfo") as f:
            line = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return []
    flags = set(line.split(":", 1)[-1].split())
    return [name for flag, name in ISA_FLAGS.items() if flag in flags]


def parse_counts(text: str) -> list[int]:
    try:
        counts = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise UserError(f"--streams takes stream counts separated by commas, e.g. 1,2,4,8, not {text!r}")
    return counts


@dataclass
class StreamBenchRow:
    streams: int
    mode: str  # batched | one by one
    frames: int
    throughput_fps: float
    per_stream_fps: float
    p50_ms: float
    p99_ms: float  # capture to sink, over every frame of every stream
    infer_p99_ms: float
    batch_sizes: dict

    def markdown(self) -> str:
        sizes = ", ".join(f"{k}: {v}" for k, v in sorted(self.batch_sizes.items(), key=lambda kv: int(kv[0])))
        return (f"| {self.streams} | {self.mode} | {self.throughput_fps:.1f} | {self.per_stream_fps:.1f} | "
                f"{self.p50_ms:.0f} | {self.p99_ms:.0f} | {self.infer_p99_ms:.0f} | {sizes} |")


@dataclass
class StreamBenchResult:
    """`bench --streams`: throughput and latency per stream count, batched and not, with the machine and its load."""

    model: str
    backend: str
    precision: str
    input_size: tuple[int, int]
    isa: list[str]
    cores: int
    load_average: dict  # before / after
    rows: list[StreamBenchRow] = field(default_factory=list)
    outputs: dict = field(default_factory=dict)

    def table(self) -> str:
        header = ("| streams | mode | throughput fps | fps per stream | p50 ms | p99 ms | infer p99 ms | batch sizes |\n"
                  "|---|---|---|---|---|---|---|---|")
        return "\n".join([header, *(r.markdown() for r in self.rows)])

    def summary(self) -> str:
        load = self.load_average
        isa = ", ".join(self.isa) or "none of " + "/".join(ISA_FLAGS.values())
        head = (f"{os.path.basename(self.model)} on {self.backend} {self.precision} {self.input_size[0]}x"
                f"{self.input_size[1]}; CPU {self.cores} cores, ISA {isa}; "
                f"load average {load['before']:.1f} before, {load['after']:.1f} after")
        return "\n".join([head, "", self.table(), "", *(f"  {k:<7}{v}" for k, v in self.outputs.items())])


def bench_streams(model, counts: list[int], *, frames_per_stream: int = 50, video: str | None = None,
                  batch_timeout_ms: float = 5.0, backend: str = "auto", score_threshold: float = SCORE_THRESHOLD,
                  out_dir: str = "bench_out", modes: tuple[str, ...] = ("batched", "one by one")) -> StreamBenchResult:
    """Time `model` over every stream count in `counts`, in each mode; writes streams.json and streams.md."""
    from .bench import load_frames
    from ..data.video import make_video
    from .predictor import Predictor

    predictor = Predictor.from_path(model, score_threshold=score_threshold, backend=backend) \
        if isinstance(model, str) else model
    shape = getattr(getattr(predictor, "backend", None), "input_shape", None) or [1]
    if "batched" in modes and isinstance(shape[0], int):
        raise UserError(f"{model} takes a fixed batch of {shape[0]}, so it cannot batch the streams: export it with "
                        "`mrcnn-edge export --dynamic-batch` (the one-by-one rows need nothing else)")
    video = video or make_video(os.path.join(out_dir, "bench_frames.mp4"), num_frames=30, size=max(predictor.input_size))
    frames = load_frames(video, limit=frames_per_stream)
    result = StreamBenchResult(str(model), predictor.backend_name, predictor.precision, tuple(predictor.input_size),
                               cpu_isa(), os.cpu_count() or 1, {"before": os.getloadavg()[0]})
    predictor(frames[0])  # warm-up: the first call compiles and allocates
    for n in counts:
        for mode in modes:
            result.rows.append(_time(predictor, frames, frames_per_stream, n, mode, batch_timeout_ms))
    result.load_average["after"] = os.getloadavg()[0]
    result.outputs = _write(result, out_dir)
    return result


def _time(predictor, frames: list, per_stream: int, streams: int, mode: str, batch_timeout_ms: float) -> StreamBenchRow:
    import numpy as np

    from .multistream import run_streams
    from .sources import Source
    from .stream_list import StreamSpec

    def replay(offset: int):
        it = iter(range(per_stream))

        def read():
            i = next(it, None)
            return None if i is None else (frames[(i + offset) % len(frames)], "")
        return read

    specs = [StreamSpec(f"s{k}", Source(replay(3 * k), f"stream {k}", live=False)) for k in range(streams)]
    result = run_streams(predictor, specs, max_batch=streams if mode == "batched" else 1,
                         batch_timeout_ms=batch_timeout_ms, live_line=False, notify=lambda message: None)
    e2e = np.concatenate([m.end_to_end for m in result.meters]) * 1000  # every frame of every stream
    infer = np.concatenate([m.stages["infer"] for m in result.meters]) * 1000
    return StreamBenchRow(streams, mode, result.frames_processed, result.throughput_fps,
                          float(np.mean([s["fps"] for s in result.streams])), float(np.percentile(e2e, 50)),
                          float(np.percentile(e2e, 99)), float(np.percentile(infer, 99)),
                          {str(k): v for k, v in result.batch_sizes.items()})


def _write(result: StreamBenchResult, out_dir: str) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    json_path, md_path = os.path.join(out_dir, "streams.json"), os.path.join(out_dir, "streams.md")
    with open(json_path, "w") as f:
        json.dump({k: v for k, v in asdict(result).items() if k != "outputs"}, f, indent=2)
    with open(md_path, "w") as f:
        f.write(result.summary().split("\n\n  ")[0] + "\n")
    return {"json": json_path, "table": md_path}
