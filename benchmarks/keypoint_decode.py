"""Where keypoint heatmaps are decoded: the cost of our host decode (runtime/keypoints.py) against
torchvision's own heatmaps_to_keypoints on the same maps, and the size of what the host decode needs
copied off the device, in one run. Writes benchmarks/results/keypoint_decode.{json,md}.

    python benchmarks/keypoint_decode.py --detections 1 5 20 100 --keypoints 17 --box 200

The copy is sized, not timed (no GPU here): K x J x 56 x 56 float32 per frame, and the decoded result
K x J x 3 float32 that an in-graph decode would copy instead.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time

import numpy as np
import torch
from torchvision.models.detection.roi_heads import heatmaps_to_keypoints as torchvision_decode

from mrcnn_edge.runtime.keypoints import heatmaps_to_keypoints

HEATMAP = 56


def _cpu() -> str:
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    name = next((l.split(":", 1)[1].strip() for l in flags.splitlines() if l.startswith("model name")), platform.processor())
    return f"{name} ({isa}), {os.cpu_count()} cores"


def _ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detections", type=int, nargs="+", default=[1, 5, 20, 100])
    parser.add_argument("--keypoints", type=int, default=17)
    parser.add_argument("--box", type=float, default=200.0, help="box side in input pixels")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--out", default="benchmarks/results/keypoint_decode")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    rows = []
    for k in args.detections:
        maps = rng.normal(size=(k, args.keypoints, HEATMAP, HEATMAP)).astype(np.float32)
        xy = rng.uniform(0, 300, (k, 2))
        boxes = np.concatenate([xy, xy + args.box], 1).astype(np.float32)
        ours = _ms(lambda: heatmaps_to_keypoints(maps, boxes), args.repeat)
        theirs = _ms(lambda: torchvision_decode(torch.from_numpy(maps), torch.from_numpy(boxes)), args.repeat)
        rows.append({"detections": k, "host_decode_ms": round(ours, 3), "torchvision_ms": round(theirs, 3),
                     "heatmaps_mb": round(maps.nbytes / 2**20, 3), "decoded_kb": round(k * args.keypoints * 12 / 1024, 2)})
        print(rows[-1])
    meta = {"date": datetime.date.today().isoformat(), "cpu": _cpu(), "threads": 1, "keypoints": args.keypoints,
            "box_side_px": args.box, "torch": torch.__version__}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    lines = [f"# Keypoint decode on the host ({meta['cpu']}, 1 thread, {meta['date']})", "",
             f"{args.keypoints} keypoints, {HEATMAP}x{HEATMAP} heatmaps, boxes of {args.box:.0f} px; median of "
             f"{args.repeat}. Reproduce: `python benchmarks/keypoint_decode.py`.", "",
             "| detections | host decode (ms) | torchvision heatmaps_to_keypoints (ms) | heatmaps off the device (MB) | decoded (KB) |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['detections']} | {r['host_decode_ms']:.2f} | {r['torchvision_ms']:.2f} | {r['heatmaps_mb']:.2f} | "
              f"{r['decoded_kb']:.1f} |" for r in rows]
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
