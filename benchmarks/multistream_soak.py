"""Multi-stream soak: 10,000 frames over 4 file streams through one batched model (not a CI test).

Each stream is a looping generated video (a file source: nothing may drop) whose annotated video and
JSONL are written under --out-dir, so decoding, batching, drawing, encoding and RLE all run. Reports
  * peak RSS after the first 500 frames and at the last frame (target: growth <= 5 %);
  * every stream's frames against what it was asked for, its drops, and its JSONL line count;
  * the aggregate throughput and the batch-size histogram; the CPU's ISA and the load average.

    PYTHONPATH=. python benchmarks/multistream_soak.py --model model_dynamic.onnx --frames 10000 --streams 4
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile

from mrcnn_edge.data.video import make_video
from mrcnn_edge.runtime.multistream import run_streams
from mrcnn_edge.runtime.predictor import Predictor
from mrcnn_edge.runtime.sources import open_source
from mrcnn_edge.runtime.stream_bench import cpu_isa
from mrcnn_edge.runtime.stream_list import StreamSpec

WARM_FRAMES = 500


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class RssProbe:
    """The predictor, sampling peak RSS inside the stream (after WARM_FRAMES frames and at the last one), so
    that the report and plot written afterwards do not count as growth."""

    def __init__(self, predictor):
        self.predictor, self.frames, self.rss_after_warmup, self.rss_last = predictor, 0, None, None
        self.backend, self.preprocess, self.infer = predictor.backend, predictor.preprocess, predictor.infer
        self.backend_name, self.precision = predictor.backend_name, predictor.precision
        self.input_size, self.class_names = predictor.input_size, predictor.class_names

    def postprocess(self, raw, meta, image=0):
        self.frames += 1
        self.rss_last = peak_rss_mb()
        if self.frames == WARM_FRAMES:
            self.rss_after_warmup = self.rss_last
        return self.predictor.postprocess(raw, meta, image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="an .onnx with a dynamic batch axis (export --dynamic-batch)")
    parser.add_argument("--frames", type=int, default=10_000, help="in all, split evenly over the streams")
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--size", type=int, default=256, help="the generated video's frame size")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--out-dir", default=os.path.join(tempfile.gettempdir(), "mrcnn_edge_multistream_soak"))
    parser.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args()

    per_stream = args.frames // args.streams
    videos = [make_video(os.path.join(args.out_dir, f"input{k}.mp4"), num_frames=100, size=args.size, seed=k)
              for k in range(args.streams)]
    probe = RssProbe(Predictor.from_path(args.model, score_threshold=0.5, backend=args.backend))
    specs = [StreamSpec(f"s{k}", open_source(v, loop=True)) for k, v in enumerate(videos)]
    load_before = os.getloadavg()
    result = run_streams(probe, specs, out_dir=args.out_dir, max_frames=per_stream, live_line=False)
    load_after = os.getloadavg()
    growth = (probe.rss_last - probe.rss_after_warmup) / probe.rss_after_warmup * 100
    streams = [{"name": s["name"], "asked": per_stream, "frames_processed": s["frames_processed"],
                "frames_dropped": s["frames_dropped"], "status": s["status"], "fps": s["fps"],
                "p99_ms": s["end_to_end_ms"]["p99"],
                "jsonl_lines": sum(1 for _ in open(os.path.join(args.out_dir, s["name"], "detections.jsonl")))}
               for s in result.streams]
    report = {"model": args.model, "backend": result.backend, "precision": result.precision,
              "input_size": list(result.input_size), "streams": streams, "frames": result.frames_processed,
              "throughput_fps": result.throughput_fps, "batch_sizes": {str(k): v for k, v in result.batch_sizes.items()},
              "rss_mb_after_warmup": probe.rss_after_warmup, "rss_mb_last": probe.rss_last, "rss_growth_pct": growth,
              "no_file_frame_lost": all(s["frames_processed"] == s["jsonl_lines"] == per_stream
                                        and s["frames_dropped"] == 0 for s in streams),
              "isa": cpu_isa(), "cores": os.cpu_count(), "load_average_before": load_before,
              "load_average_after": load_after}
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "multistream_soak.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps({k: v for k, v in report.items() if k != "streams"}, indent=2))
    for s in streams:
        print(s)


if __name__ == "__main__":
    main()
