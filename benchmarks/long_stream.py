"""Long-stream soak: memory growth and host overhead of `run` over many frames (not a CI test).

Streams a looping generated video through a model with the annotated video, JSONL and report
written, then reports
  * peak RSS growth after the first 500 frames (target <= 5 %): a leak shows up as steady growth;
  * host overhead, capture wait + preprocess + postprocess + sink as a share of end to end
    (target <= 10 % for the light model @512 on ONNX Runtime with --out).

    python benchmarks/long_stream.py --model demo_out/model_<sha>_512x512.onnx --frames 10000
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time

from mrcnn_edge.runtime import Predictor
from mrcnn_edge.data.video import make_video
from mrcnn_edge.runtime.latency import STAGES
from mrcnn_edge.runtime import SCORE_THRESHOLD
from mrcnn_edge.runtime.run import run_stream
from mrcnn_edge.runtime.sources import open_source

WARM_FRAMES = 500  # allocator pools, ORT arenas and caches settle within these


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class RssProbe:
    """Wraps a predictor to sample peak RSS after WARM_FRAMES frames and at the last frame, inside the
    stream: the report and plot written afterwards (matplotlib) must not count as growth."""

    def __init__(self, predictor):
        self.predictor, self.frames, self.rss_after_warmup, self.rss_last = predictor, 0, None, None
        self.preprocess, self.infer = predictor.preprocess, predictor.infer
        self.backend_name, self.precision = predictor.backend_name, predictor.precision
        self.input_size, self.class_names = predictor.input_size, predictor.class_names

    def postprocess(self, raw, meta):
        self.frames += 1
        self.rss_last = peak_rss_mb()  # one getrusage call: microseconds
        if self.frames == WARM_FRAMES:
            self.rss_after_warmup = self.rss_last
        return self.predictor.postprocess(raw, meta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help=".onnx (the light model @512 for the overhead target)")
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--out-dir", default=os.path.join(tempfile.gettempdir(), "mrcnn_edge_long_stream"),
                        help="the annotated video, JSONL and report")
    parser.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"),
                        help="where <name>.json goes")
    parser.add_argument("--name", default="long_stream")
    parser.add_argument("--backend", default="auto", help="auto, onnxruntime or openvino (mrcnn-edge run --backend)")
    args = parser.parse_args()
    if args.frames <= WARM_FRAMES:
        parser.error(f"--frames must exceed {WARM_FRAMES}")

    probe = RssProbe(Predictor.from_path(args.model, score_threshold=SCORE_THRESHOLD, backend=args.backend))
    size = max(probe.input_size)
    video = make_video(os.path.join(args.out_dir, f"loop_{size}.mp4"), num_frames=300, size=size)
    result = run_stream(probe, open_source(video, loop=True), out=os.path.join(args.out_dir, "annotated.mp4"),
                        jsonl=os.path.join(args.out_dir, "detections.jsonl"), report_dir=args.out_dir,
                        max_frames=args.frames)
    report = json.load(open(result.outputs["report"]))
    means = {s: report["stages_ms"][s]["mean"] for s in STAGES}
    host_ms = sum(v for s, v in means.items() if s != "infer")
    growth = (probe.rss_last - probe.rss_after_warmup) / probe.rss_after_warmup
    summary = {
        "frames": result.frames_processed, "model": args.model, "backend": result.backend,
        "precision": result.precision, "load_average": os.getloadavg(),
        "input_size": list(result.input_size), "fps": result.fps,
        "peak_rss_after_500_mb": probe.rss_after_warmup, "peak_rss_last_frame_mb": probe.rss_last,
        "rss_growth_after_500": growth, "rss_target_met": growth <= 0.05,
        "host_overhead_share": host_ms / report["end_to_end_ms"]["mean"], "stage_means_ms": means,
        # drawing, encoding and RLE run in the writer thread, overlapping the next frame's inference
        "sink_writer_mean_ms": (report.get("sink_writer_ms") or {}).get("mean"),
    }
    summary["host_overhead_target_met"] = summary["host_overhead_share"] <= 0.10
    summary["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    summary["date"] = time.strftime("%Y-%m-%d")
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, f"{args.name}.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
