"""The engine stage, the last step of `mrcnn-edge build` (the whole chain is mrcnn_edge/chain.py): a TensorRT
engine where TensorRT is installed; elsewhere the ONNX Runtime model of the precision asked for
(CPU_ARTIFACTS), with one line saying so (never a crash, never a fake engine)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from ..errors import UserError
from ..files import link_or_copy
from ..sidecar import read_sidecar, sidecar_path, write_sidecar
from ..names import (BUILD_PRECISIONS, calibration_cache_path, is_plugin_graph, model_stem, plugin_graph_of,
                     precision_path)
from .metadata import check_onnx_contract, import_tensorrt
from .result import BuildResult

__all__ = ["CPU_ARTIFACTS", "BuildResult", "build", "tensorrt_graph"]


@dataclass(frozen=True)
class CpuArtifact:
    precision: str  # the CPU model built for a requested precision
    note: str = ""  # said in the summary when it differs from what was asked
    runs_on: str = "OpenVINO or ONNX Runtime, `--backend`"


# Without TensorRT: requested precision -> the CPU artifact built instead. The one table of that choice.
# fp16: measured slower than fp32 on both CPU runtimes here (OpenVINO computes it in f32, ONNX Runtime
# pays for the casts; benchmarks/results/cpu_backends.md), so the CPU gets fp32.
CPU_ARTIFACTS = {
    "fp32": CpuArtifact("fp32"),
    "fp16": CpuArtifact("fp32", "fp16 measured slower than fp32 on CPUs: see benchmarks/results/cpu_backends.md"),
    "int8": CpuArtifact("int8"),
    "bf16": CpuArtifact("bf16", runs_on="OpenVINO in bf16 where the CPU has AVX512-BF16 or AMX"),
}
assert tuple(CPU_ARTIFACTS) == BUILD_PRECISIONS  # every precision `build` takes has its CPU artifact


def tensorrt_graph(onnx_path: str, precision: str) -> str:
    """The graph TensorRT builds: the plugin graph of that precision (model.trt.onnx for fp32)."""
    if not is_plugin_graph(onnx_path):
        onnx_path = plugin_graph_of(onnx_path, precision)
        if not os.path.isfile(onnx_path):
            raise UserError(f"{onnx_path} not found: TensorRT builds the plugin graph of the precision asked for; "
                            f"`mrcnn-edge build --model {model_stem(onnx_path)}.onnx --precision {precision}` makes it "
                            "(or `mrcnn-edge surgery`, then `mrcnn-edge quantize`)")
    have = read_sidecar(onnx_path).get("precision", "fp32")
    if have != precision:
        raise UserError(f"{onnx_path} is a {have} graph: a {precision} engine needs the {precision} graph "
                        f"{os.path.basename(plugin_graph_of(onnx_path, precision))}")
    return onnx_path


def cpu_artifact_path(onnx_path: str, precision: str, out_dir: str) -> str:
    """Where the CPU artifact built for `precision` from model.onnx goes: out_dir/model.<built>.onnx."""
    return os.path.join(out_dir, os.path.basename(precision_path(onnx_path, CPU_ARTIFACTS[precision].precision)))


def onnxruntime_build(onnx_path: str, precision: str, out_dir: str, calibration: str | None) -> BuildResult:
    """Without TensorRT: the ONNX Runtime model of `precision`, from the fp32 export model.onnx."""
    start = time.perf_counter()
    info = read_sidecar(onnx_path)
    if is_plugin_graph(onnx_path) or info.get("precision", "fp32") != "fp32":
        raise UserError(f"without TensorRT, build starts from the fp32 export {model_stem(onnx_path)}.onnx, "
                        f"not {os.path.basename(onnx_path)}")
    artifact = CPU_ARTIFACTS[precision]
    built = artifact.precision
    out = cpu_artifact_path(onnx_path, precision, out_dir)
    if os.path.abspath(out) == os.path.abspath(onnx_path):
        raise UserError(f"{out} would overwrite its own source: export to model.onnx, or pass another --out-dir")
    if built == "fp32":
        link_or_copy(onnx_path, out)
        write_sidecar(out, {**info, "precision": "fp32"})
    else:  # int8 (calibration: `mrcnn-edge calibrate`'s cache, default its entropy cache beside the model), bf16
        from ..precision.convert import convert

        cache = calibration or calibration_cache_path(onnx_path)
        convert(onnx_path, built, cache=cache, out=out)
    return BuildResult(out, sidecar_path(out), "cpu", built, precision, time.perf_counter() - start,
                       artifact.note, artifact.runs_on)


def build(onnx_path: str, precision: str = "fp16", out_dir: str | None = None, *, plugins: str | None = None,
          workspace_mb: int = 4096, dla_core: int | None = None, timing_cache: str | None = None,
          opt_level: int = 3, max_batch: int = 8, calibration: str | None = None) -> BuildResult:
    """Build `onnx_path` (model.onnx, or its plugin graph) at `precision` into out_dir (default: beside it).

    With TensorRT: model.<precision>.engine + .engine.json from model.<precision>.trt.onnx.
    Without: the ONNX Runtime model of that precision (int8 needs `mrcnn-edge calibrate`'s cache).
    """
    if precision not in BUILD_PRECISIONS:
        raise UserError(f"unknown precision '{precision}': choose {', '.join(BUILD_PRECISIONS)}")
    if not os.path.isfile(onnx_path):
        raise UserError(f"model not found: {onnx_path} (export one with `mrcnn-edge export`)")
    out_dir = out_dir or os.path.dirname(os.path.abspath(onnx_path))
    os.makedirs(out_dir, exist_ok=True)
    if import_tensorrt() is None:
        check_onnx_contract(onnx_path)
        return onnxruntime_build(onnx_path, precision, out_dir, calibration)
    from .tensorrt_build import build_engine

    graph = tensorrt_graph(onnx_path, precision)
    check_onnx_contract(graph)
    return build_engine(graph, precision, out_dir, plugins=plugins, workspace_mb=workspace_mb, dla_core=dla_core,
                        timing_cache=timing_cache, opt_level=opt_level, max_batch=max_batch)
