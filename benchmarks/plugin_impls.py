"""model.trt.onnx on the CPU with its plugin nodes on the CPU references vs on the CUDA kernels themselves
(plugins/cpu_exec), fp32 and fp16 plugin graphs of the shipped model: seconds per frame (median of the
frames, rows interleaved frame by frame so that load changes hit every row alike) and whether the outputs are
bit-identical. The kernels path is for verification, not speed: a GPU kernel recomputes each RoI's level and
grid per output element, which a GPU does for free and a CPU core does not.

    python benchmarks/plugin_impls.py [--frames 20]   # -> results/plugin_impls.{json,md}
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cpu_backends import ISA_FLAGS  # noqa: E402
from export_vs_eager import machine, write_results  # noqa: E402

from mrcnn_edge.data.synthetic import VAL, sample  # noqa: E402
from mrcnn_edge.runtime.preprocess import letterbox  # noqa: E402
from mrcnn_edge.surgery.cpu_runner import PluginGraphRunner  # noqa: E402


def _graphs(folder: str) -> dict[str, str]:
    from mrcnn_edge.export.onnx_export import export_onnx
    from mrcnn_edge.model.zoo import default_checkpoint
    from mrcnn_edge.precision.fp16 import to_fp16
    from mrcnn_edge.surgery.surgeon import surgeon

    onnx_path = export_onnx(default_checkpoint(), os.path.join(folder, "model.onnx"), None, progress=False).path
    trt = surgeon(onnx_path, os.path.join(folder, "model.trt.onnx")).path
    return {"fp32": trt, "fp16": to_fp16(trt, os.path.join(folder, "model.fp16.trt.onnx")).path}


def _isa() -> list[str]:
    with open("/proc/cpuinfo") as f:
        flags = set(next(line for line in f if line.startswith("flags")).split(":", 1)[1].split())
    return [f for f in ISA_FLAGS if f in flags]


def measure(frames: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        graphs = _graphs(folder)
        runners = {(p, impl): PluginGraphRunner(path, plugin_impl=impl) for p, path in graphs.items()
                   for impl in ("reference", "kernels")}
        seconds = {key: [] for key in runners}
        identical = {p: True for p in graphs}
        load = [os.getloadavg()[0]]
        for i in range(frames + 1):  # frame 0 warms up (segment compilation)
            images, _ = letterbox(sample(VAL, i)[0], (512, 512))
            outputs = {}
            for key, runner in runners.items():
                t0 = time.perf_counter()
                outputs[key] = runner.run({"images": images})
                if i:
                    seconds[key].append(time.perf_counter() - t0)
            for p in graphs:
                ref, ker = outputs[(p, "reference")], outputs[(p, "kernels")]
                identical[p] &= all(np.array_equal(ref[n], ker[n]) for n in ref)
        load.append(os.getloadavg()[0])
    rows = [{"graph": p, "plugin_impl": impl, "median_s": statistics.median(s), "min_s": min(s)}
            for (p, impl), s in seconds.items()]
    return {"machine": {**machine(), "isa": _isa(), "load_average": load}, "frames": frames,
            "identical_outputs": identical, "rows": rows}


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"# model.trt.onnx: plugin nodes on the references vs on the CUDA kernels (plugins/cpu_exec)\n",
             f"{m['cpu']}, {m['cores']} cores, ISA {', '.join(m['isa'])}; load average "
             f"{m['load_average'][0]:.1f} -> {m['load_average'][1]:.1f}; {report['frames']} frames of the "
             f"synthetic val set at 512x512, rows interleaved; {m['date']}\n",
             "| graph | plugin impl | median s/frame | min s/frame | outputs bit-identical to the reference |",
             "|---|---|---|---|---|"]
    for r in report["rows"]:
        same = "yes" if report["identical_outputs"][r["graph"]] else "NO"
        lines.append(f"| {r['graph']} | {r['plugin_impl']} | {r['median_s']:.3f} | {r['min_s']:.3f} | "
                     f"{same if r['plugin_impl'] == 'kernels' else ''} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20)
    args = parser.parse_args()
    write_results(measure(args.frames), "plugin_impls", markdown)


if __name__ == "__main__":
    main()
