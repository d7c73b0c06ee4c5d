"""The multi-stream table: `bench --streams 1,2,4,8` on OpenVINO and ONNX Runtime, batched against one by one.

Exports the shipped light model with a dynamic batch axis (512x512) into a scratch folder, runs
`mrcnn_edge.runtime.stream_bench.bench_streams` for each backend, and writes
benchmarks/results/multistream.{json,md} with the CPU's ISA, its core count and the load average.

    PYTHONPATH=. python benchmarks/multistream.py --streams 1,2,4,8 --frames 30
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import asdict

from mrcnn_edge.export.onnx_export import export_onnx
from mrcnn_edge.model.zoo import default_checkpoint
from mrcnn_edge.runtime.stream_bench import bench_streams, parse_counts

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", default="1,2,4,8")
    parser.add_argument("--frames", type=int, default=30, help="frames per stream")
    parser.add_argument("--backends", default="openvino,onnxruntime")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "mrcnn_edge_multistream_bench"))
    parser.add_argument("--results", default=RESULTS)
    args = parser.parse_args()

    os.makedirs(args.work, exist_ok=True)
    model = os.path.join(args.work, "model_dynamic.onnx")
    if not os.path.isfile(model):
        export_onnx(default_checkpoint(), model, (512, 512), batch_size=None, progress=False)
    runs = []
    for backend in args.backends.split(","):
        result = bench_streams(model, parse_counts(args.streams), frames_per_stream=args.frames, backend=backend,
                               out_dir=os.path.join(args.work, backend))
        print(result.summary())
        runs.append(result)
    write(runs, args)


def write(runs: list, args) -> None:
    os.makedirs(args.results, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    cpu = platform.processor() or platform.machine()
    with open(os.path.join(args.results, "multistream.json"), "w") as f:
        json.dump({"date": stamp, "cpu": cpu, "frames_per_stream": args.frames,
                   "runs": [{k: v for k, v in asdict(r).items() if k != "outputs"} for r in runs]}, f, indent=2)
    lines = [f"# `bench --streams {args.streams}`: one model, many streams ({stamp})", "",
             f"`PYTHONPATH=. python benchmarks/multistream.py --streams {args.streams} --frames {args.frames}`: the shipped "
             f"light model, 512x512, fp32, exported with `--dynamic-batch`; {args.frames} frames per stream, replayed "
             "from memory (file semantics: no drops). \"one by one\" is the same model and scheduler with batches of 1.",
             "p50/p99 are capture to sink over every frame of every stream; the streams saturate the model, so they "
             "include each frame's wait in its queues (source 4 + lane 2). infer p99 is one call's time (a whole batch).",
             ""]
    for r in runs:
        lines += [f"## {r.backend} ({r.cores} cores, ISA {', '.join(r.isa)}; load average {r.load_average['before']:.1f} "
                  f"before, {r.load_average['after']:.1f} after)", "", r.table(), ""]
    with open(os.path.join(args.results, "multistream.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
