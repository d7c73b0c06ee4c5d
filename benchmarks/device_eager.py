"""torchvision eager Mask R-CNN on one device: the reference every TensorRT number is compared with.

R50-FPN v1 with seeded random weights (no download), box_score_thresh=0 and a wider classifier
init as in export_vs_eager.py, so that every frame yields the full 100 detections (the worst case
for the mask head); fp32 and fp16 autocast; per frame size. Latency is the whole `model([image])`
call (transform, backbone, RPN, heads, mask pasting), synchronised, from a tensor already on the
device. Needs only torch and torchvision (any recent release); called by device_check.sh.

    python3 benchmarks/device_eager.py --out DIR [--kernels kernels.json]      # on the GPU
    python3 benchmarks/device_eager.py --device cpu --sizes 320x320 --precisions fp32 \\
        --warmup 0 --iterations 1 --out /tmp/x                                  # smoke test

Writes DIR/device_check.json and DIR/device_check.md; with --kernels, the CUDA kernel table of
kernel_device_test is included in both.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time

import torch
import torchvision
from torch import nn

from mrcnn_edge.model.architectures import build_model

DETECTIONS = 100


def r50(size: tuple[int, int], device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    model = build_model("maskrcnn_resnet50_fpn", num_classes=91, min_size=min(size), max_size=max(size),
                        box_score_thresh=0.0, box_detections_per_img=DETECTIONS)
    nn.init.normal_(model.roi_heads.box_predictor.cls_score.weight, std=0.5)  # spread, untied scores
    return model.eval().to(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_model(model: nn.Module, image: torch.Tensor, precision: str, warmup: int, iterations: int) -> dict:
    device = image.device
    autocast = torch.autocast(device.type, dtype=torch.float16, enabled=precision == "fp16")
    times, detections = [], []
    with torch.inference_mode(), autocast:
        for i in range(warmup + iterations):
            _sync(device)
            start = time.perf_counter()
            out = model([image])[0]
            _sync(device)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1e3)
                detections.append(int(out["boxes"].shape[0]))
    return {"median_ms": statistics.median(times), "min_ms": min(times), "iterations": iterations,
            "detections": min(detections)}


def run(args) -> dict:
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("device_eager: torch sees no CUDA device (torch.cuda.is_available() is False)")
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    rows = []
    for size_text in args.sizes:
        h, w = (int(v) for v in size_text.split("x"))
        model = r50((h, w), device)
        generator = torch.Generator().manual_seed(1)
        image = torch.rand(3, h, w, generator=generator).to(device)  # [0,1], as the model's transform expects
        for precision in args.precisions:
            row = {"model": "maskrcnn_resnet50_fpn", "size": f"{h}x{w}", "precision": precision,
                   **time_model(model, image, precision, args.warmup, args.iterations)}
            print(f"eager {row['size']} {precision}: {row['median_ms']:.2f} ms median "
                  f"({row['detections']} detections)", flush=True)
            rows.append(row)
        del model
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
            "torch": torch.__version__, "torchvision": torchvision.__version__,
            "cuda": torch.version.cuda, "cudnn_benchmark": torch.backends.cudnn.benchmark, "eager": rows}


def markdown(report: dict) -> str:
    lines = [f"# device_check: {report['device']}", "",
             f"{report['date']}; torch {report['torch']}, torchvision {report['torchvision']}, CUDA {report['cuda']}.",
             "", "## torchvision eager Mask R-CNN (R50-FPN v1, random init, 100 detections)", "",
             "| size | precision | median ms | min ms | detections |", "|---|---|---|---|---|"]
    lines += [f"| {r['size']} | {r['precision']} | {r['median_ms']:.2f} | {r['min_ms']:.2f} | {r['detections']} |"
              for r in report["eager"]]
    kernels = report.get("kernels")
    if kernels:
        lines += ["", f"## CUDA kernels vs CPU reference ({kernels['device']}, batch 2)", "",
                  "| kernel | case | max abs error | tolerance | mismatches | median ms | min ms |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {c['kernel']} | {c['case']} | {c['max_abs_error']:.3g} | {c['tolerance']:.3g} | "
                  f"{c['mismatches']}{'' if c['passed'] else ' FAILED'} | {c['median_ms']:.4f} | {c['min_ms']:.4f} |"
                  for c in kernels["cases"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder for device_check.json and device_check.md")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (smoke test)")
    parser.add_argument("--sizes", nargs="+", default=["800x800", "800x1344"], help="HxW frames")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "fp16"], choices=["fp32", "fp16"])
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2, help="torch threads on the CPU")
    parser.add_argument("--kernels", help="kernel_device_test's JSON to include")
    args = parser.parse_args()
    report = run(args)
    if args.kernels and os.path.exists(args.kernels):
        with open(args.kernels) as f:
            report["kernels"] = json.load(f)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "device_check.json"), "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(args.out, "device_check.md"), "w") as f:
        f.write(markdown(report))
    print(f"wrote {os.path.join(args.out, 'device_check.json')} and device_check.md")


if __name__ == "__main__":
    main()
