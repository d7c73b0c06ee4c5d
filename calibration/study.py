"""How many calibration images, and which method: INT8 AP of the shipped model against FP32.

    PYTHONPATH=. python calibration/study.py --model out/model.onnx --counts 8 32 --methods minmax entropy percentile
    PYTHONPATH=. python calibration/study.py --model out/model.onnx --counts 32 --methods entropy \
        --keep-float "" first_conv,head_outputs first_conv,head_outputs,mask_head mask_head --name keep_float

Writes calibration/<name>.md (AP on the synthetic val split; calibration uses the calib split).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

from mrcnn_edge.eval.run import evaluate_artifacts, format_table
from mrcnn_edge.precision.calibrate import calibrate
from mrcnn_edge.precision.convert import convert


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="model.onnx (fp32) of the shipped checkpoint")
    parser.add_argument("--counts", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--methods", nargs="+", default=["minmax", "entropy", "percentile"])
    parser.add_argument("--num-images", type=int, default=200, help="val images for AP")
    parser.add_argument("--keep-float", nargs="+", default=[""],
                        help="comma-separated layer sets kept in float, one int8 model each ('' = none)")
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--name", default="results", help="the table is written to <out>/<name>.md")
    args = parser.parse_args()
    stem = args.model.removesuffix(".onnx")
    artifacts, timings = [args.model], {}
    for method in args.methods:
        for count in args.counts:
            cache = calibrate(args.model, "synthetic", method=method, num_images=count,
                              cache_path=f"{stem}.calib.{method}{count}.json")
            for keep in args.keep_float:
                kept = [k for k in keep.split(",") if k]
                suffix = "".join(f"-{k}" for k in kept)
                out = convert(args.model, "int8", cache=cache.cache, keep_float=kept,
                              out=f"{stem}.int8.{method}{count}{suffix}.onnx").path
                artifacts.append(out)
                timings[os.path.basename(out)] = round(cache.seconds, 1)
    rows = evaluate_artifacts(artifacts, args.num_images)
    table = format_table(rows)
    header = (f"INT8 calibration study, {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores; AP on {args.num_images} synthetic val images, x100; ΔAP against FP32 ORT.\n"
              f"Calibration seconds: {json.dumps(timings)}\n\n")
    with open(os.path.join(args.out, f"{args.name}.md"), "w") as f:
        f.write(header + table + "\n")
    print(header + table)


if __name__ == "__main__":
    main()
