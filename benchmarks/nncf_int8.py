"""NNCF (Intel's quantizer) against our int8 (ONNX Runtime's Q/DQ placement, float heads) on OpenVINO, and each with
bf16 for its float remainder: one of issue 32's levers, measured before it is built into `build`.

NNCF quantizes the OpenVINO model our backend reads (the mask rows trimmed, the regions inlined) from the same
synthetic calibration frames, with its CPU placement (Add and Concat inputs too). Its Gather nodes are left out
(`ignored_scope`): NNCF 3.4 raises a KeyError on a Gather of a constant table in this graph. Presets: PERFORMANCE
(symmetric activations, NNCF's default) and MIXED (asymmetric activations); each also with our int8's float layers
(placement.DEFAULT_KEEP_FLOAT: first conv, head outputs, mask head) in its ignored scope. Rows are timed in one loop over the
same frames (benchmarks/export_vs_eager.py time_case); the light model also gets COCO AP on the synthetic val set.
Writes benchmarks/results/nncf_int8.{json,md}.

    pip install -e '.[nncf]'
    PYTHONPATH=. python benchmarks/nncf_int8.py --cases light@512 r50@800
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import cv2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_backends import artifacts, isa, mean_ap, versions  # noqa: E402
from export_vs_eager import build_case, machine, time_case, write_results  # noqa: E402

from mrcnn_edge.data.synthetic import VAL, sample  # noqa: E402
from mrcnn_edge.export.onnx_export import OPSET, export_model, sidecar_info  # noqa: E402
from mrcnn_edge.letterbox import letterbox  # noqa: E402
from mrcnn_edge.precision.calibration_data import calibration_frames  # noqa: E402
from mrcnn_edge.runtime import Predictor  # noqa: E402
from mrcnn_edge.runtime.backends.openvino_backend import OpenVINOBackend  # noqa: E402
from mrcnn_edge.sidecar import write_sidecar  # noqa: E402


def _compiled(path: str, model, hint: str) -> Predictor:
    """A Predictor on `path`'s OpenVINO backend, running `model` (an ov.Model) at INFERENCE_PRECISION_HINT `hint`."""
    backend = OpenVINOBackend(path, cache=False)
    backend.compiled = backend.core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY",
                                                                 "INFERENCE_PRECISION_HINT": hint})
    backend.request = backend.compiled.create_infer_request()
    return Predictor(backend)


def _float_heads(path: str) -> list[str]:
    """Our int8's float layers (placement.DEFAULT_KEEP_FLOAT) by their OpenVINO names: a Conv with a bias becomes
    `<name>/WithoutBiases` and the Add `<name>`."""
    import onnx

    from mrcnn_edge.precision.placement import DEFAULT_KEEP_FLOAT, nodes_to_exclude

    names = nodes_to_exclude(onnx.load(path, load_external_data=False), list(DEFAULT_KEEP_FLOAT))
    return names + [f"{n}/WithoutBiases" for n in names]


def _nncf(path: str, size, calib_images: int, preset: str, float_heads: bool) -> tuple[object, float]:
    import nncf

    frames = [letterbox(f, size)[0] for f in calibration_frames("synthetic", calib_images)]
    model = OpenVINOBackend(path, cache=False)._read(path)
    start = time.perf_counter()
    ignored = nncf.IgnoredScope(types=["Gather"], names=_float_heads(path) if float_heads else [], validate=False)
    quantized = nncf.quantize(model, nncf.Dataset(frames), subset_size=calib_images,
                              preset=getattr(nncf.QuantizationPreset, preset), ignored_scope=ignored)
    return quantized, time.perf_counter() - start


def run_case(name: str, args) -> dict:
    model, arch, size, classes = build_case(name, args.light_checkpoint)
    calib_images = args.calib_images if name.startswith("light") else args.r50_calib_images
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        path = os.path.join(tmp, "model.onnx")
        export_model(model, path, size)
        write_sidecar(path, sidecar_info(model, arch=arch, classes=classes, size=size, opset=OPSET, sha256=""))
        ours = artifacts(path, {"int8_u8s8"}, "entropy", calib_images)["int8_u8s8"]
        ours_model = OpenVINOBackend(ours, cache=False)._read(ours)
        predictors = {"openvino fp32": Predictor.from_path(path, backend="openvino"),
                      "ours int8": Predictor.from_path(ours, backend="openvino"),
                      "ours int8, bf16 rest": _compiled(path, ours_model, "bf16")}
        seconds = {}
        for preset in args.presets:
            for float_heads in (False, True):
                row = f"nncf {preset.lower()}" + (", our float heads" if float_heads else "")
                quantized, seconds[row] = _nncf(path, size, calib_images, preset, float_heads)
                predictors[row] = _compiled(path, quantized, "f32")
                predictors[f"{row}, bf16 rest"] = _compiled(path, quantized, "bf16")
        frames = [cv2.resize(sample(VAL, i)[0], size[::-1]) for i in range(args.frames)]
        load_before = os.getloadavg()
        result = time_case(model, predictors, frames, args.warmup, args.iterations)
        result |= {"case": name, "arch": arch, "rows": list(predictors), "nncf_seconds": seconds,
                   "calib_images": calib_images, "load_average_before": load_before,
                   "load_average_after": os.getloadavg()}
        if name.startswith("light") and args.ap_images:
            from mrcnn_edge.model.eager import EagerPredictor

            result["ap"] = mean_ap(predictors, EagerPredictor(model), args.ap_images)
    return result


def markdown(report: dict) -> str:
    m, i = report["machine"], report["isa"]
    lines = ["# NNCF int8 against ours, on OpenVINO", "",
             f"{m['cpu']}, {m['cores']} cores, {m['date']}; ISA: {', '.join(i['flags'])} (not: {', '.join(i['missing'])}); "
             + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ". Median of "
             f"{report['iterations']} after {report['warmup']} warm-up, end to end (preprocess, infer, paste); rows "
             "interleaved frame by frame. \"bf16 rest\": the same int8 model, its float layers at "
             "INFERENCE_PRECISION_HINT bf16.", ""]
    for r in report["cases"]:
        fp32 = r["openvino fp32_ms"]
        lines += [f"## {r['case']} ({r['arch']}; {r['calib_images']} calibration frames; load average "
                  f"{r['load_average_before'][0]:.2f} before, {r['load_average_after'][0]:.2f} after)", "",
                  "| OpenVINO model | ms | infer ms | vs fp32 | box AP | mask AP |", "|---|---|---|---|---|---|"]
        for row in r["rows"]:
            ap = r.get("ap", {}).get(row)
            cells = f"{100 * ap['box_ap']:.1f} | {100 * ap['mask_ap']:.1f}" if ap else " | "
            lines.append(f"| {row} | {r[f'{row}_ms']:.1f} | {r[f'{row}_infer_ms']:.1f} | {fp32 / r[f'{row}_ms']:.2f}x "
                         f"| {cells} |")
        if "ap" in r:
            lines.append(f"\nEager: box AP {100 * r['ap']['eager']['box_ap']:.1f}, mask AP "
                         f"{100 * r['ap']['eager']['mask_ap']:.1f}, {r['eager_ms']:.0f} ms.")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=["light@512", "r50@800", "r50@512"], default=["light@512"])
    parser.add_argument("--presets", nargs="+", choices=["PERFORMANCE", "MIXED"], default=["PERFORMANCE", "MIXED"])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--calib-images", type=int, default=64)
    parser.add_argument("--r50-calib-images", type=int, default=8)
    parser.add_argument("--ap-images", type=int, default=200)
    parser.add_argument("--light-checkpoint", default=None, help="default: the shipped model")
    parser.add_argument("--tmp", default=None)
    args = parser.parse_args()
    if args.light_checkpoint is None:
        from mrcnn_edge.model.zoo import default_checkpoint

        args.light_checkpoint = default_checkpoint()
    import nncf

    report = {"machine": machine(), "isa": isa(), "versions": {**versions(), "nncf": nncf.__version__},
              "iterations": args.iterations,
              "warmup": args.warmup, "cases": []}
    for name in args.cases:  # each case on disk as soon as it ends
        report["cases"].append(run_case(name, args))
        write_results(report, "nncf_int8", markdown)


if __name__ == "__main__":
    main()
