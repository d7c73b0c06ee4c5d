"""CPU backends side by side: torchvision eager vs ONNX Runtime vs OpenVINO, fp32 / bf16 / int8 (and fp16).

One run, one machine. Every case times all its rows in one loop over the same frames (eager, then each
row, frame after frame: A,B,C,A,B,C...), so a neighbour's load falls on all rows alike; the load average
is recorded before and after each case. Models are built as benchmarks/export_vs_eager.py builds them
(shipped light checkpoint; R50-FPN seeded random init with 100 detections a frame). For the light model
every row also gets COCO AP on the synthetic val images (ΔAP against eager) and the fps of
`mrcnn-edge run` (annotated video + JSONL written) over a looped generated video, in alternating rounds.
Writes benchmarks/results/<out>.{json,md}.

    PYTHONPATH=. python benchmarks/cpu_backends.py --cases light@512 r50@800
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_vs_eager import build_case, machine, time_case, write_results  # noqa: E402

from mrcnn_edge.data.synthetic import VAL, sample  # noqa: E402
from mrcnn_edge.export.onnx_export import OPSET, export_model, sidecar_info  # noqa: E402
from mrcnn_edge.runtime import Predictor  # noqa: E402
from mrcnn_edge.sidecar import write_sidecar  # noqa: E402

# row -> (backend, artifact). int8 u8s8 is the ONNX Runtime Q/DQ flavour (asymmetric unsigned activations),
# int8 s8s8 the TensorRT one (symmetric signed), both from the same calibration cache.
ROWS = {
    "onnxruntime fp32": ("onnxruntime", "fp32"), "openvino fp32": ("openvino", "fp32"),
    "openvino bf16": ("openvino", "bf16"),
    "onnxruntime int8 u8s8": ("onnxruntime", "int8_u8s8"), "openvino int8 u8s8": ("openvino", "int8_u8s8"),
    "openvino int8 s8s8": ("openvino", "int8_s8s8"),
    "onnxruntime fp16": ("onnxruntime", "fp16"), "openvino fp16": ("openvino", "fp16"),
}
ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_bf16", "amx_int8", "avx512_fp16")


def isa() -> dict:
    with open("/proc/cpuinfo") as f:
        flags = set(next(line for line in f if line.startswith("flags")).split(":", 1)[1].split())
    import openvino as ov

    return {"flags": [f for f in ISA_FLAGS if f in flags], "missing": [f for f in ISA_FLAGS if f not in flags],
            "openvino_capabilities": list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))}


def versions() -> dict:
    import onnxruntime
    import openvino

    return {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "openvino": openvino.__version__}


def artifacts(path: str, needed: set[str], method: str, calib_images: int) -> dict[str, str]:
    """The variants of model.onnx that the rows need, written beside it."""
    from mrcnn_edge.precision.calibrate import calibrate
    from mrcnn_edge.precision.convert import convert
    from mrcnn_edge.precision.int8 import quantize_int8

    made = {"fp32": path}
    if "bf16" in needed:
        made["bf16"] = convert(path, "bf16").path
    if "fp16" in needed:
        made["fp16"] = convert(path, "fp16").path
    if needed & {"int8_u8s8", "int8_s8s8"}:
        cache = calibrate(path, "synthetic", method=method, num_images=calib_images).cache
        made["int8_u8s8"] = convert(path, "int8", cache=cache).path  # model.onnx's own flavour
        if "int8_s8s8" in needed:
            made["int8_s8s8"] = quantize_int8(path, path[:-5] + ".int8s8s8.onnx", cache, target="tensorrt").path
    return made


def mean_ap(predictors: dict, eager, num_images: int) -> dict:
    from mrcnn_edge.eval.coco_eval import evaluate_synthetic

    def predict_with(predictor):
        def predict(frame):
            d = predictor(frame)
            return d.boxes, d.scores, d.classes, d.masks
        return predict

    ap = {"eager": evaluate_synthetic(eager, VAL, num_images, desc="eager")}
    for name, predictor in predictors.items():
        ap[name] = evaluate_synthetic(predict_with(predictor), VAL, num_images, desc=name)
    return {name: {"box_ap": r.box_ap, "mask_ap": r.mask_ap} for name, r in ap.items()}


def stream_fps(paths: dict, backend_of: dict, size: int, frames: int, rounds: int, tmp: str) -> dict:
    """fps of `mrcnn-edge run` (video + JSONL written, score threshold 0.5) per row, rounds alternating rows."""
    from mrcnn_edge.data.video import make_video
    from mrcnn_edge.runtime.run import run_stream
    from mrcnn_edge.runtime.sources import open_source

    video = make_video(os.path.join(tmp, f"loop_{size}.mp4"), num_frames=120, size=size)
    fps: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, path in paths.items():
            out = os.path.join(tmp, "stream")
            result = run_stream(path, open_source(video, loop=True), out=os.path.join(out, "annotated.mp4"),
                                jsonl=os.path.join(out, "detections.jsonl"), max_frames=frames,
                                live_line=False, backend=backend_of[name])
            fps[name].append(result.fps)
    return fps


def run_case(name: str, args) -> dict:
    model, arch, size, classes = build_case(name, args.light_checkpoint)
    rows = {r: ROWS[r] for r in (args.rows if name.startswith("light") else args.r50_rows)}
    frames = [cv2.resize(sample(VAL, i)[0], size[::-1]) for i in range(args.frames)]
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        path = os.path.join(tmp, "model.onnx")
        export_model(model, path, size)
        write_sidecar(path, sidecar_info(model, arch=arch, classes=classes, size=size, opset=OPSET, sha256=""))
        made = artifacts(path, {a for _, a in rows.values()}, args.int8, args.calib_images
                         if name.startswith("light") else args.r50_calib_images)
        predictors = {r: Predictor.from_path(made[a], threads=args.threads, backend=b) for r, (b, a) in rows.items()}
        load_before = os.getloadavg()
        result = time_case(model, predictors, frames, args.warmup, args.iterations)
        result |= {"case": name, "arch": arch, "size": list(size), "rows": list(rows),
                   "precision_reported": {r: p.precision for r, p in predictors.items()},
                   "load_average_before": load_before, "load_average_after": os.getloadavg()}
        if name.startswith("light") and args.ap_images:
            from mrcnn_edge.model.eager import EagerPredictor

            result["ap"] = mean_ap(predictors, EagerPredictor(model), args.ap_images)
        if name.startswith("light") and args.stream_frames:
            del predictors  # the streams load their own
            streamed = {r: rows[r] for r in args.stream_rows if r in rows}
            result["stream_fps"] = stream_fps({r: made[a] for r, (_, a) in streamed.items()},
                                              {r: b for r, (b, _) in streamed.items()}, size[0], args.stream_frames,
                                              args.stream_rounds, tmp)
            result["load_average_after_streams"] = os.getloadavg()
    print(json.dumps(result), flush=True)
    return result


def markdown(report: dict) -> str:
    m, i = report["machine"], report["isa"]
    lines = ["# CPU backends: eager vs ONNX Runtime vs OpenVINO", "",
             f"{m['cpu']}, {m['cores']} cores, {m['date']}; ISA: {', '.join(i['flags'])} (not: {', '.join(i['missing'])}); "
             f"OpenVINO CPU capabilities: {', '.join(i['openvino_capabilities'])}; " +
             ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ".",
             "", "The machine was shared with other jobs during the run: rows of a case are interleaved frame by "
             "frame (eager, row 1, row 2, ... on each frame), so load falls on all of them alike; compare ratios "
             f"within a case. Median of {report['iterations']} after {report['warmup']} warm-up, end to end "
             "(preprocess, infer, pasting every detection as eager does).", ""]
    for r in report["cases"]:
        load = f"load average {r['load_average_before'][0]:.2f} before, {r['load_average_after'][0]:.2f} after"
        first = r["rows"][0]  # the ratio column's reference: any subset of rows has one
        lines += [f"## {r['case']} ({r['arch']}, {load})", "",
                  f"| backend, precision | dets | ms (pre / infer / post) | vs eager | vs {first} | box AP | ΔAP box "
                  "| mask AP | ΔAP mask | run fps (rounds) |", "|---|---|---|---|---|---|---|---|---|---|",
                  f"| torchvision eager | | {r['eager_ms']:.0f} | 1.00x | | " + _ap_cells(r, "eager") + " |"]
        for row in r["rows"]:
            fps = r.get("stream_fps", {}).get(row)
            lines.append(
                f"| {row} | {r[f'{row}_detections_median']:.0f} | {r[f'{row}_ms']:.1f} ({r[f'{row}_preprocess_ms']:.1f}"
                f" / {r[f'{row}_infer_ms']:.1f} / {r[f'{row}_postprocess_ms']:.1f}) | "
                f"{r['eager_ms'] / r[f'{row}_ms']:.2f}x | {r[f'{first}_ms'] / r[f'{row}_ms']:.2f}x | "
                + _ap_cells(r, row) + " | " + (f"{np.mean(fps):.1f} ({', '.join(f'{v:.1f}' for v in fps)})" if fps else "")
                + " |")
        if "load_average_after_streams" in r:
            lines += ["", f"Load average after the streams: {r['load_average_after_streams'][0]:.2f}."]
        lines.append("")
    return "\n".join(lines)


def _ap_cells(r: dict, row: str) -> str:
    if "ap" not in r:
        return " | | | "
    ap, ref = r["ap"][row], r["ap"]["eager"]
    return (f"{100 * ap['box_ap']:.1f} | {100 * (ap['box_ap'] - ref['box_ap']):+.1f} | {100 * ap['mask_ap']:.1f} | "
            f"{100 * (ap['mask_ap'] - ref['mask_ap']):+.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=["light@512", "r50@800", "r50@512"],
                        default=["light@512", "r50@800"])
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS), help="light model rows")
    parser.add_argument("--r50-rows", nargs="+", choices=list(ROWS), default=[
        "onnxruntime fp32", "openvino fp32", "openvino bf16", "onnxruntime int8 u8s8", "openvino int8 u8s8",
        "openvino int8 s8s8"])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="backend threads; default: all cores")
    parser.add_argument("--int8", default="entropy", choices=["entropy", "minmax", "percentile"])
    parser.add_argument("--calib-images", type=int, default=64, help="light model (the shipped recipe)")
    parser.add_argument("--r50-calib-images", type=int, default=8, help="R50 random init has no accuracy to keep")
    parser.add_argument("--ap-images", type=int, default=200, help="synthetic val images for ΔAP (light model)")
    parser.add_argument("--stream-frames", type=int, default=300, help="frames per `run` stream (light model)")
    parser.add_argument("--stream-rounds", type=int, default=2)
    parser.add_argument("--stream-rows", nargs="+", choices=list(ROWS), default=[
        "onnxruntime fp32", "onnxruntime int8 u8s8", "openvino fp32", "openvino bf16", "openvino int8 u8s8",
        "openvino int8 s8s8"])
    parser.add_argument("--light-checkpoint", default=None, help="default: the shipped model")
    parser.add_argument("--tmp", default=None, help="scratch folder for the models")
    parser.add_argument("--out", default="cpu_backends")
    args = parser.parse_args()
    if args.light_checkpoint is None:
        from mrcnn_edge.model.zoo import default_checkpoint

        args.light_checkpoint = default_checkpoint()
    report = {"machine": machine(), "isa": isa(), "versions": versions(), "iterations": args.iterations,
              "warmup": args.warmup, "cases": []}
    for name in args.cases:  # each case on disk as soon as it ends: a later case's failure loses nothing
        report["cases"].append(run_case(name, args))
        report["machine"]["uptime"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        write_results(report, args.out, markdown)


if __name__ == "__main__":
    main()
