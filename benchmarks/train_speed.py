"""Training speed in images/s: `mrcnn-edge train --data` itself (data loading, augmentation and the optimizer
step included) on a generated COCO set, for the light model and R50-FPN at 384 and 512, on this CPU.

The first `--warmup` iterations are left out (allocator and oneDNN's first calls); images/s is the global batch
times the timed iterations over their seconds, from metrics.csv. Writes benchmarks/results/train_speed.{json,md}.

    PYTHONPATH=. python benchmarks/train_speed.py
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_vs_eager import machine  # noqa: E402

from mrcnn_edge.data.hardware import write_hardware_coco  # noqa: E402
from mrcnn_edge.train.config import CocoTrainConfig  # noqa: E402
from mrcnn_edge.train.loop import train_coco  # noqa: E402

ARCHS = {"light": "maskrcnn_mobilenet_v3_large_fpn_lite", "mobilenet-fpn": "maskrcnn_mobilenet_v3_large_fpn",
         "r50": "maskrcnn_resnet50_fpn"}
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def isa() -> str:
    """The vector extensions that decide CPU training speed, as lscpu names them."""
    flags = set(open("/proc/cpuinfo").read().split())
    return ", ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16") if f in flags)


def images_per_second(arch: str, size: int, data: tuple[str, str], iterations: int, warmup: int, batch: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        cfg = CocoTrainConfig(data=data[0], images=data[1], out=out, arch=arch, size=(size, size), batch=batch,
                              iterations=iterations, log_every=1, checkpoint_every=10**9, workers=1)
        train_coco(cfg)
        rows = [r for r in csv.DictReader(open(os.path.join(out, "metrics.csv"))) if r["kind"] == "train"]
    seconds = {int(r["iteration"]): float(r["seconds"]) for r in rows}
    return batch * (iterations - warmup) / (seconds[iterations] - seconds[warmup])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archs", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[384, 512])
    parser.add_argument("--iterations", type=int, default=14)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        data = (write_hardware_coco(root, num_images=32, seed=1), os.path.join(root, "images"))
        rows = [{"model": name, "arch": ARCHS[name], "size": size, "batch": args.batch,
                 "images_per_s": round(images_per_second(ARCHS[name], size, data, args.iterations, args.warmup,
                                                         args.batch), 2)}
                for name in args.archs for size in args.sizes]
    info = {**machine(), "isa": isa(), "torch": torch.__version__, "rows": rows}
    os.makedirs(RESULTS, exist_ok=True)
    json.dump(info, open(os.path.join(RESULTS, "train_speed.json"), "w"), indent=2)
    lines = [f"# Training speed (`mrcnn-edge train --data`), {info['cpu']}, {info['cores']} cores, "
             f"{info['torch_threads']} torch threads, ISA: {info['isa']}; {info['date']}", "",
             f"Global batch {args.batch}, one data-loading worker, iterations {args.warmup + 1}-{args.iterations} "
             "timed (optimizer step, data and augmentation included).", "",
             "| model | input | images/s |", "|---|---|---|"]
    lines += [f"| {r['model']} ({r['arch']}) | {r['size']}x{r['size']} | {r['images_per_s']} |" for r in rows]
    open(os.path.join(RESULTS, "train_speed.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
