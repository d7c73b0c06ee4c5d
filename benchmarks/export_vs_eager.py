"""torchvision eager vs model.onnx on ONNX Runtime (CPU), end to end with mask pasting, in one run.

Cases: R50-FPN v1 at 800x800 and 512x512 with seeded random weights, box_score_thresh=0 and a wider
classifier init, so that every image yields the full K=100 detections (the worst case for the mask
head and for pasting); the light model at 512x512 (shipped checkpoint, else --light-checkpoint).
Both sides see the same frames at the model's input size, so eager does not resize either.
Also measured in the same run: this machine's fp32 matmul GFLOP/s around each case, and efficiency =
model GFLOP / latency / matmul GFLOP/s. Writes benchmarks/results/export_vs_eager.{json,md}.

    python benchmarks/export_vs_eager.py --cases light@512 r50@512 --iterations 10
    python benchmarks/export_vs_eager.py --cases r50@800 --int8 entropy --out int8_vs_eager
    (int8: one model per --int8-keep-float set; default the shipped recipe's set, and none)
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import tempfile
import time

import cv2
import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mrcnn_edge.data.synthetic import VAL, sample
from mrcnn_edge.export.onnx_export import OPSET, export_model, sidecar_info
from mrcnn_edge.model.architectures import build_model
from mrcnn_edge.model.checkpoint import load_model
from mrcnn_edge.model.eager import EagerPredictor
from mrcnn_edge.precision.placement import DEFAULT_KEEP_FLOAT
from mrcnn_edge.runtime import Predictor
from mrcnn_edge.sidecar import write_sidecar

CASES = ("r50@800", "r50@512", "light@512")
RESULTS = os.path.join(os.path.dirname(__file__), "results")


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in subprocess.run(
        ["lscpu"], capture_output=True, text=True).stdout.splitlines() if line.startswith("Model name")),
        platform.processor())
    return {"cpu": model, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "date": datetime.datetime.now().isoformat(timespec="seconds")}


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """fp32 torch.mm throughput of this machine, best of repeats: the roofline the models are put against."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_seconds(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def build_case(name: str, light_checkpoint: str) -> tuple[nn.Module, str, tuple[int, int], list[str]]:
    arch, size = name.split("@")
    size = (int(size), int(size))
    if arch == "light":
        model, ckpt = load_model(light_checkpoint, min_size=size[0], max_size=size[1])
        return model, ckpt.arch, size, ckpt.classes
    torch.manual_seed(0)
    model = build_model("maskrcnn_resnet50_fpn", num_classes=91, min_size=size[0], max_size=size[1],
                        box_score_thresh=0.0)
    nn.init.normal_(model.roi_heads.box_predictor.cls_score.weight, std=0.5)  # spread, untied scores
    return model.eval(), "maskrcnn_resnet50_fpn", size, [f"c{i}" for i in range(1, 91)]


def model_gflop(model: nn.Module, frame: np.ndarray) -> float:
    """FLOPs (convolutions and matmuls) of torchvision eager on a benchmark frame: the work that both
    sides do. Eager runs the mask head on the detections only, as ORT does with its dynamic K."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        EagerPredictor(model)(frame)
    return counter.get_total_flops() / 1e9


def ort_op_breakdown(path: str, images: np.ndarray, threads: int | None, runs: int = 3) -> dict[str, float]:
    """ONNX Runtime's own profile of model.onnx on one preprocessed frame: ms per run by op type, largest
    first. It profiles the optimised graph that the timed predictor built and cached beside the model."""
    import onnxruntime as ort

    from mrcnn_edge.runtime.backends.onnxruntime_backend import optimized_path
    from mrcnn_edge.threads import ort_session_options

    options = ort_session_options(ort, threads)
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(os.path.dirname(path), "ort_profile")  # beside the model, a temp dir
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(optimized_path(path), options, providers=["CPUExecutionProvider"])
    for _ in range(runs + 1):
        session.run(None, {"images": images})
    with open(session.end_profiling()) as f:
        events = [e for e in json.load(f) if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    per_op: dict[str, float] = {}
    for e in events:
        per_op[e["args"]["op_name"]] = per_op.get(e["args"]["op_name"], 0.0) + e["dur"] / 1000 / (runs + 1)
    return dict(sorted(per_op.items(), key=lambda kv: -kv[1]))


def time_case(model, predictors: dict, frames, warmup: int, iterations: int) -> dict:
    """Median ms of eager and of each predictor (with its stages), all on the same frames in one loop."""
    eager = EagerPredictor(model)
    times: dict[str, list[float]] = {"eager": []}
    detections: dict[str, list[int]] = {name: [] for name in predictors}
    for i in range(warmup + iterations):
        frame = frames[i % len(frames)]
        eager_s = _seconds(lambda: eager(frame))
        if i >= warmup:
            times["eager"].append(eager_s)
        for name, predictor in predictors.items():
            t0 = time.perf_counter()
            batch, meta = predictor.preprocess(frame)
            t1 = time.perf_counter()
            raw = predictor.infer(batch)
            t2 = time.perf_counter()
            detections[name].append(len(predictor.postprocess(raw, meta)))
            t3 = time.perf_counter()
            if i >= warmup:
                for stage, value in (("", t3 - t0), ("_preprocess", t1 - t0), ("_infer", t2 - t1),
                                     ("_postprocess", t3 - t2)):
                    times.setdefault(name + stage, []).append(value)
    return {f"{k}_ms": float(np.median(v) * 1000) for k, v in times.items()} | {
        f"{name}_detections_median": float(np.median(d[warmup:])) for name, d in detections.items()}


def int8_model(path: str, method: str, num_images: int, keep_float: tuple[str, ...], out: str) -> str:
    """Calibrate model.onnx on synthetic calib images and insert Q/DQ (ONNX Runtime flavour)."""
    from mrcnn_edge.precision.calibrate import calibrate
    from mrcnn_edge.precision.convert import convert

    cache = calibrate(path, "synthetic", method=method, num_images=num_images)
    return convert(path, "int8", cache=cache.cache, keep_float=keep_float, out=out).path


def run_case(name: str, args) -> dict:
    model, arch, size, classes = build_case(name, args.light_checkpoint)
    frames = [cv2.resize(sample(VAL, i)[0], size[::-1]) for i in range(args.frames)]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        export_model(model, path, size)
        write_sidecar(path, sidecar_info(model, arch=arch, classes=classes, size=size, opset=OPSET, sha256=""))
        predictors = {"onnxruntime": Predictor.from_onnx(path, threads=args.threads)}
        for i, keep in enumerate(args.int8_keep_float if args.int8 else []):
            kept = tuple(k for k in keep.split(",") if k)
            int8 = int8_model(path, args.int8, args.calib_images, kept, os.path.join(tmp, f"model.int8.{i}.onnx"))
            predictors[f"int8 ({'+'.join(kept)} float)" if kept else "int8 (all quantised)"] = \
                Predictor.from_onnx(int8, args.threads)
        before = matmul_gflops()
        result = time_case(model, predictors, frames, args.warmup, args.iterations)
        # The machine's neighbours load it unevenly (this VM measured 91 to 175 GFLOP/s within an hour):
        # the best of a measurement before and after the timing is the roofline, so efficiency is never
        # flattered by a slow moment of the matmul probe.
        gflops_mm = max(before, matmul_gflops())
        images = predictors["onnxruntime"].preprocess(frames[0])[0]
        result["onnxruntime_ops_ms"] = ort_op_breakdown(path, images, args.threads)
    gflop = model_gflop(model, frames[0])
    result |= {"case": name, "arch": arch, "size": list(size), "gflop": gflop, "backends": list(predictors),
               "matmul_gflops": gflops_mm,
               "efficiency_eager": gflop / (result["eager_ms"] / 1000) / gflops_mm}
    for p in predictors:
        result |= {f"{p}_speedup": result["eager_ms"] / result[f"{p}_ms"],
                   f"{p}_efficiency": gflop / (result[f"{p}_ms"] / 1000) / gflops_mm}
    print(json.dumps(result), flush=True)
    return result


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["# Eager vs ONNX Runtime (CPU), end to end with pasting", "",
             f"{m['cpu']}, {m['cores']} cores, torch threads {m['torch_threads']}, {m['date']}; "
             f"median of {report['iterations']} after {report['warmup']} warm-up; efficiency = GFLOP / latency / "
             "fp32 matmul GFLOP/s (torch.mm 2048, the best of a probe before and after each case).", "",
             "| case | backend | GFLOP | dets | eager ms | ms (pre / infer / post) | speed-up | matmul GFLOP/s | efficiency |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in report["cases"]:
        for p in r["backends"]:
            lines.append(f"| {r['case']} | {'ORT fp32' if p == 'onnxruntime' else 'ORT ' + p} | {r['gflop']:.1f} | "
                         f"{r[f'{p}_detections_median']:.0f} | {r['eager_ms']:.0f} | {r[f'{p}_ms']:.0f} "
                         f"({r[f'{p}_preprocess_ms']:.1f} / {r[f'{p}_infer_ms']:.0f} / {r[f'{p}_postprocess_ms']:.1f}) | "
                         f"{r[f'{p}_speedup']:.2f}x | {r['matmul_gflops']:.0f} | "
                         f"{r['efficiency_eager']:.1%} eager, {r[f'{p}_efficiency']:.1%} |")
    lines += ["", "ONNX Runtime fp32 profile, ms per run by op type (one frame, kernel time):", "",
              "| case | " + " | ".join(f"op {i + 1}" for i in range(6)) + " | all ops |", "|---|" + "---|" * 7]
    for r in report["cases"]:
        ops = r["onnxruntime_ops_ms"]
        top = [f"{op} {ms:.0f}" for op, ms in list(ops.items())[:6]]
        lines.append(f"| {r['case']} | " + " | ".join(top + [""] * (6 - len(top))) + f" | {sum(ops.values()):.0f} |")
    return "\n".join(lines) + "\n"


def write_results(report: dict, name: str, markdown_of) -> None:
    """results/<name>.json and results/<name>.md (markdown_of(report)), and the table on stdout."""
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"{name}.json"), "w") as f:
        json.dump(report, f, indent=2)
    text = markdown_of(report)  # before the .md is opened: a failing table leaves the last one, not an empty file
    with open(os.path.join(RESULTS, f"{name}.md"), "w") as f:
        f.write(text)
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="ORT and torch threads; default: all cores")
    parser.add_argument("--light-checkpoint", default=None, help="default: the shipped model")
    parser.add_argument("--int8", choices=["minmax", "entropy", "percentile"], default=None,
                        help="also time an INT8 model calibrated with this method")
    parser.add_argument("--calib-images", type=int, default=8)
    parser.add_argument("--int8-keep-float", nargs="+", default=[",".join(DEFAULT_KEEP_FLOAT), ""],
                        help="comma-separated layer sets kept in float, one int8 model each ('' = none)")
    parser.add_argument("--out", default="export_vs_eager", help="results file name in benchmarks/results/")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.light_checkpoint is None:
        from mrcnn_edge.model.zoo import default_checkpoint

        args.light_checkpoint = default_checkpoint() if "light@512" in args.cases else ""
    report = {"machine": machine(), "iterations": args.iterations, "warmup": args.warmup,
              "cases": [run_case(name, args) for name in args.cases]}
    write_results(report, args.out, markdown)


if __name__ == "__main__":
    main()
