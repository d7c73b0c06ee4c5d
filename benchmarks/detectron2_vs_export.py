"""detectron2 eager vs our model.onnx on ONNX Runtime (CPU), same R-50 weights, same frames, interleaved.

The weights are the tests' seeded detectron2 R-50 (tests/detectron2_oracle/weights.py, 4 classes, 100
detections a frame); the frame is scikit-image's astronaut resized to 800x1344 (detectron2 tests at
shortest side 800, longest <= 1333; 1344 is the multiple of 32 that holds that), so neither side resizes.
Both sides end to end with mask pasting (detectron2: GeneralizedRCNN.inference + detector_postprocess;
ours: Predictor = letterbox + ONNX Runtime + detectron2's paste), both on the same thread count.
Needs detectron2's source (never installed, no C++ ops): writes benchmarks/results/detectron2.md.

    PYTHONPATH=/tmp/d2:/tmp/d2deps:. python benchmarks/detectron2_vs_export.py /tmp/d2 --iterations 5
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from detectron2_oracle.make_reference import detectron2_model, run  # noqa: E402
from detectron2_oracle.weights import make_weights, write_pkl  # noqa: E402

SIZE = (800, 1344)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "detectron2.md")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source", help="detectron2 source checkout")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from skimage import data

    from mrcnn_edge.export.onnx_export import export_onnx
    from mrcnn_edge.runtime import Predictor

    torch.set_num_threads(args.threads)
    frame = cv2.resize(data.astronaut(), SIZE[::-1], interpolation=cv2.INTER_LINEAR)
    with tempfile.TemporaryDirectory() as tmp:
        weights = write_pkl(os.path.join(tmp, "model_final_r50.pkl"), make_weights(50))
        start = time.perf_counter()
        onnx_path = export_onnx(weights, os.path.join(tmp, "model.onnx"), SIZE, progress=False).path
        export_s = time.perf_counter() - start
        d2 = detectron2_model(args.source, 50, weights)
        ours = Predictor.from_onnx(onnx_path, threads=args.threads)
        cases = {"detectron2 eager": lambda: run(d2, frame), "ours, ONNX Runtime fp32": lambda: ours(frame)}
        times = {name: [] for name in cases}
        counts = {"detectron2 eager": len(run(d2, frame)["scores"]), "ours, ONNX Runtime fp32": len(ours(frame).scores)}
        for _ in range(args.iterations):  # A, B, A, B...
            for name, fn in cases.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    load = os.getloadavg()
    commit = subprocess.run(["git", "-C", args.source, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    commit = commit or open(os.path.join(args.source, "COMMIT")).read().strip()
    flags = open("/proc/cpuinfo").read().split("flags")[1].split("\n")[0]
    isa = ", ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni") if f" {f}" in flags)
    base = np.median(times["detectron2 eager"])
    rows = [f"| {name} | {np.median(t) * 1000:.0f} ms | {min(t) * 1000:.0f} ms | {base / np.median(t):.2f}x | "
            f"{counts[name]} |" for name, t in times.items()]
    text = "\n".join([
        "# detectron2 eager vs our export (R-50-FPN, 800x1344, CPU)", "",
        f"{datetime.date.today()}, {platform.processor() or platform.machine()} ({isa}), {args.threads} threads "
        f"each, load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} (a shared machine), detectron2 {commit}, "
        f"torch {torch.__version__}. Seeded weights (tests/detectron2_oracle/weights.py), astronaut at 800x1344, "
        f"end to end with mask pasting, {args.iterations} iterations interleaved; export took {export_s:.0f} s.", "",
        "| case | median | best | speed-up over detectron2 | detections |", "|---|---|---|---|---|", *rows, "",
        "    PYTHONPATH=/tmp/d2:/tmp/d2deps:. python benchmarks/detectron2_vs_export.py /tmp/d2 --iterations "
        f"{args.iterations}", ""])
    with open(OUT, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
