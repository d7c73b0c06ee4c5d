"""`mrcnn-edge build`: the whole chain, from a checkpoint (or model.onnx) to what this machine runs.

export -> surgery -> (calibrate) -> precision -> check -> TensorRT engine (the engine stage), or without
TensorRT the CPU model of that precision, which the chain makes itself (CPU_ARTIFACTS, below). Each step is
skipped when its artifact exists and is newer than its inputs (the export also only when made from the same
checkpoint, by its hash), so a second `build` only redoes what changed. `check` always runs on the graph
TensorRT would get, with or without TensorRT, so a graph that TensorRT would refuse never leaves a CPU-only
machine unnoticed.
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from tqdm import tqdm

from .engine.build import check_engine_precision, tensorrt_graph
from .engine.metadata import check_onnx_contract, import_tensorrt, onnx_io
from .engine.result import BuildResult
from .errors import UserError
from .files import link_or_copy, sha256_of
from .names import (BUILD_PRECISIONS, CALIBRATION_METHOD, calibration_cache_path, engine_metadata_path,
                    engine_path, is_plugin_graph, model_stem, plugin_graph_path, precision_path)
from .sidecar import read_sidecar, sidecar_path, write_sidecar

CALIBRATION_IMAGES = 64
T = TypeVar("T")


@dataclass(frozen=True)
class CpuArtifact:
    """What the chain builds for a requested precision where TensorRT is absent (a row of CPU_ARTIFACTS)."""

    precision: str  # the CPU model built for a requested precision
    note: str = ""  # said in the summary when it differs from what was asked
    runs_on: str = "OpenVINO or ONNX Runtime, `--backend`"

    def result(self, path: str, requested: str, seconds: float) -> BuildResult:
        """The CPU model at `path`, its sidecar beside it: built now, or reused."""
        return BuildResult(path, sidecar_path(path), "cpu", self.precision, requested, seconds, self.note,
                           self.runs_on)


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


def cpu_artifact_path(onnx_path: str, precision: str, out_dir: str) -> str:
    """Where the CPU artifact built for `precision` from model.onnx goes: out_dir/model.<built>.onnx."""
    return os.path.join(out_dir, os.path.basename(precision_path(onnx_path, CPU_ARTIFACTS[precision].precision)))


def build_cpu_artifact(onnx_path: str, precision: str, out_dir: str, cache: str | None) -> BuildResult:
    """Without TensorRT, the last step: the CPU model of `precision` (CPU_ARTIFACTS) from the fp32 export
    model.onnx, into out_dir; int8 quantises with the calibration cache `cache`."""
    from .precision.convert import convert

    start = time.perf_counter()
    artifact = CPU_ARTIFACTS[precision]
    out = cpu_artifact_path(onnx_path, precision, out_dir)
    if artifact.precision == "fp32":
        link_or_copy(onnx_path, out)
        write_sidecar(out, {**read_sidecar(onnx_path), "precision": "fp32"})
    else:  # int8, bf16
        convert(onnx_path, artifact.precision, cache=cache, out=out)
    return artifact.result(out, precision, time.perf_counter() - start)


@dataclass
class ChainResult:
    """`mrcnn-edge build`: the built artifact, the graph `check` passed, and what was written or reused."""

    build: BuildResult
    tensorrt_graph: str               # the graph `check` passed (and TensorRT built, where installed)
    written: list[str] = field(default_factory=list)   # every file this run wrote
    reused: list[str] = field(default_factory=list)    # artifacts already up to date
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [dataclasses.replace(self.build, seconds=self.seconds).summary(),
                 f"checked {self.tensorrt_graph}: passes TensorRT's rules"]
        lines.append("wrote " + (", ".join(self.written) if self.written else "nothing (every artifact up to date)"))
        if self.reused:
            lines.append("up to date: " + ", ".join(self.reused))
        return "\n".join(lines)


def up_to_date(path: str, inputs: list[str]) -> bool:
    """path exists and is at least as new as every input."""
    if not os.path.isfile(path):
        return False
    mtime = os.path.getmtime(path)
    return all(os.path.getmtime(i) <= mtime for i in inputs if os.path.isfile(i))


class _Steps:
    """Runs each step unless its artifact is up to date; records what it wrote; drives the progress bar."""

    def __init__(self, names: list[str], progress: bool):
        self.bar = tqdm(total=len(names), desc="build", unit="step", disable=not progress, leave=False)
        self.written: list[str] = []
        self.reused: list[str] = []

    def run(self, name: str, out: str, inputs: list[str], make: Callable[[], T],
            extra_outputs: tuple[str, ...] = ()) -> T | None:
        """make()'s value, or None where `out` (and every extra output) is up to date and is reused."""
        self.bar.set_description(name)
        made: T | None = None
        if all(up_to_date(p, inputs) for p in (out, *extra_outputs)):
            self.reused.append(out)
        else:
            made = make()
            self.written += [out, *extra_outputs]
        self.bar.update()
        return made

    def close(self) -> None:
        self.bar.close()


def _export(weights: str, out: str, size, arch, batch_size, steps: _Steps) -> None:
    from .export.onnx_export import export_onnx

    def make() -> None:
        export_onnx(weights, out, size, arch=arch, batch_size=batch_size, progress=False)

    if not os.path.isfile(weights):  # export's loader refuses it in one line: no earlier export stands in for it
        make()
    if os.path.isfile(out) and os.path.isfile(sidecar_path(out)):
        sidecar, dynamic = read_sidecar(out), onnx_io(out)["images"]["shape"][0] == -1
        # another checkpoint of the same name (every detectron2 run writes a model_final.pkl) may be older than
        # the export: its hash tells, not its time
        if (size is not None and tuple(sidecar["input_size"]) != tuple(size)) or dynamic != (batch_size is None) \
                or sidecar.get("checkpoint_sha256") not in (None, sha256_of(weights)):
            os.remove(out)  # another checkpoint, input size or batch axis asked for: export again
    steps.run("export", out, [weights], make, (sidecar_path(out),))


_NEEDS_SOURCE = ("int8 needs calibration images like your model's inputs: pass --calib-source DIR|video "
                 "(or --calibration CACHE from `mrcnn-edge calibrate`)")


def _calibration_source(onnx_path: str, cache: str | None, source: str | None, shipped: str | None) -> str | None:
    """Where INT8 ranges come from, decided before any slow step: a given cache (None returned), the given
    images, or for a shipped model (`shipped`: its calibration source) the set it was trained on; a user's
    model needs images like its own."""
    if cache is not None:
        if not os.path.isfile(cache):
            raise UserError(f"calibration cache not found: {cache} (drop --calibration to calibrate inline)")
        return None
    if source is None and not shipped and not up_to_date(calibration_cache_path(onnx_path), [onnx_path]):
        raise UserError(_NEEDS_SOURCE)
    return source or shipped  # None: the user's up-to-date cache is reused


def _calibration_cache(onnx_path: str, cache: str | None, source: str | None, num_images: int,
                       steps: _Steps) -> str:
    """The INT8 ranges: the given cache, else calibrated inline (kept while newer than model.onnx)."""
    from .precision.calibrate import calibrate

    if cache is not None:
        return cache
    out = calibration_cache_path(onnx_path)
    if source is None and not up_to_date(out, [onnx_path]):  # the model was exported again since
        raise UserError(_NEEDS_SOURCE)
    steps.run("calibrate", out, [onnx_path],
              lambda: calibrate(onnx_path, source or "synthetic", method=CALIBRATION_METHOD, num_images=num_images,
                                cache_path=out))
    return out


def _precision_graph(trt_path: str, precision: str, cache: str | None, steps: _Steps) -> str:
    """model.trt.onnx -> model.<precision>.trt.onnx (fp32: model.trt.onnx itself)."""
    from .precision.convert import convert

    if precision in ("fp32", "bf16"):  # bf16 lives in the CPU runtime; TensorRT's graph stays fp32
        return trt_path
    out = precision_path(trt_path, precision)
    assert precision == "fp16" or cache is not None  # int8 always has its ranges by now
    # a .trt.onnx input: convert gives int8 the TensorRT Q/DQ flavour
    steps.run(precision, out, [trt_path] + ([cache] if cache else []),
              lambda: convert(trt_path, precision, cache=cache, out=out), (sidecar_path(out),))
    return out


def _check(graph: str, tensorrt_version: str | None, steps: _Steps, remake: Callable[[], str]) -> str:
    """Hold the graph TensorRT gets to TensorRT's rules. One reused from an earlier run (another toolkit
    version, another recipe) that fails them is made again once; a graph made now that fails is an error."""
    from .check.checker import check
    from .check.rules import DEFAULT_RELEASE, release_for

    release = release_for(tensorrt_version) if tensorrt_version else DEFAULT_RELEASE
    steps.bar.set_description("check")
    result = check(graph, release)
    if not result.ok and graph in steps.reused:
        steps.reused.remove(graph)
        os.remove(graph)
        graph = remake()
        result = check(graph, release)
    if not result.ok:
        raise UserError(f"{graph} breaks {len(result.violations)} of TensorRT {release}'s rules, first: "
                        f"{result.lines()[0]} (all: `mrcnn-edge check {graph}`)")
    steps.bar.update()
    return graph


def _source(weights: str | None, model: str | None, out_dir: str | None) -> tuple[str | None, str, str, str | None]:
    """(checkpoint or None, model.onnx path, output folder, the calibration source if it is a shipped model).
    A checkpoint builds into a folder of its own, <stem>_build in the working directory; a model.onnx
    beside itself."""
    from .model.zoo import default_checkpoint, shipped_calibration

    if weights and model:
        raise UserError("pass --weights (a checkpoint to export) or --model (an exported .onnx), not both")
    if model:
        if not os.path.isfile(model):
            raise UserError(f"model not found: {model} (export one with `mrcnn-edge export`, or pass --weights)")
        shipped = shipped_calibration(checkpoint_sha256=read_sidecar(model).get("checkpoint_sha256"))
        return None, model, out_dir or os.path.dirname(os.path.abspath(model)), shipped
    weights = weights or default_checkpoint()  # read (and refused, in one line) by export's own loader
    stem = os.path.splitext(os.path.basename(weights))[0]
    out_dir = out_dir or os.path.join(os.getcwd(), f"{stem}_build")
    return weights, os.path.join(out_dir, f"{stem}.onnx"), out_dir, shipped_calibration(checkpoint=weights)


def build_chain(precision: str = "fp16", *, weights: str | None = None, model: str | None = None, size=None,
                arch: str | None = None, dynamic_batch: bool = False, out_dir: str | None = None,
                calibration: str | None = None, calib_source: str | None = None,
                calib_images: int = CALIBRATION_IMAGES, plugins: str | None = None, workspace_mb: int = 4096,
                dla_core: int | None = None, timing_cache: str | None = None, opt_level: int = 3,
                max_batch: int = 8, progress: bool = True) -> ChainResult:
    """Build the shipped model (no weights, no model), a checkpoint (`weights`, exported at `size`) or an
    exported model.onnx (`model`) for this machine at `precision`. See the module docstring."""
    start = time.perf_counter()
    if precision not in BUILD_PRECISIONS:
        raise UserError(f"unknown precision '{precision}': choose {', '.join(BUILD_PRECISIONS)}")
    engine_options = dict(plugins=plugins, workspace_mb=workspace_mb, dla_core=dla_core, timing_cache=timing_cache,
                          opt_level=opt_level, max_batch=max_batch)
    trt = import_tensorrt()
    if trt is not None:
        from .engine.tensorrt_build import preflight

        check_engine_precision(precision)
        preflight(precision, plugins, dla_core)  # cuda-python, GPU, plugin library, DLA: before any slow step
    weights, onnx_path, out_dir, shipped = _source(weights, model, out_dir)
    os.makedirs(out_dir, exist_ok=True)
    if not weights and is_plugin_graph(onnx_path) and trt is not None:
        return _engine_only(onnx_path, precision, out_dir, start, engine_options)
    if not weights and (is_plugin_graph(onnx_path) or read_sidecar(onnx_path).get("precision", "fp32") != "fp32"):
        raise UserError(f"build starts from a checkpoint or the fp32 export model.onnx, not "
                        f"{os.path.basename(onnx_path)}: pass --model {model_stem(onnx_path)}.onnx")
    if not weights:  # a broken or foreign model.onnx in one line, before the progress bar
        check_onnx_contract(onnx_path)
    source = _calibration_source(onnx_path, calibration, calib_source, shipped) if precision == "int8" else None
    names = (["export"] if weights else []) + ["surgery"] + (["calibrate"] if precision == "int8" else []) + \
        ([precision] if precision not in ("fp32", "bf16") else []) + ["check", "engine"]
    steps = _Steps(names, progress)
    try:
        if weights:
            _export(weights, onnx_path, size, arch, None if dynamic_batch else 1, steps)
            check_onnx_contract(onnx_path)
        trt_path = os.path.join(out_dir, os.path.basename(plugin_graph_path(onnx_path)))
        cache = None

        def tensorrt_graph() -> str:  # surgery, then the precision stage: each skipped when up to date
            from .surgery.surgeon import surgeon

            nonlocal cache
            steps.run("surgery", trt_path, [onnx_path], lambda: surgeon(onnx_path, trt_path),
                      (sidecar_path(trt_path),))
            if precision == "int8":
                cache = _calibration_cache(onnx_path, calibration, source, calib_images, steps)
            return _precision_graph(trt_path, precision, cache, steps)

        graph = _check(tensorrt_graph(), trt.__version__ if trt is not None else None, steps, tensorrt_graph)
        result = _engine(graph, onnx_path, precision, out_dir, cache, trt is not None, steps, engine_options)
    finally:
        steps.close()
    return ChainResult(result, graph, list(dict.fromkeys(steps.written)), list(dict.fromkeys(steps.reused)),
                       time.perf_counter() - start)


def _engine_only(graph: str, precision: str, out_dir: str, start: float, engine_options: dict) -> ChainResult:
    """With TensorRT, from a plugin graph made elsewhere (model.<precision>.trt.onnx): check, then the engine."""
    import tensorrt

    graph = tensorrt_graph(graph, precision)  # its sidecar says it is that precision
    steps = _Steps(["check", "engine"], progress=False)
    try:
        _check(graph, tensorrt.__version__, steps, lambda: graph)
        result = _engine(graph, graph, precision, out_dir, None, True, steps, engine_options)
    finally:
        steps.close()
    return ChainResult(result, graph, steps.written, steps.reused, time.perf_counter() - start)


def _engine(graph: str, onnx_path: str, precision: str, out_dir: str, cache: str | None, tensorrt: bool,
            steps: _Steps, engine_options: dict) -> BuildResult:
    """The last step: the TensorRT engine of `graph` (the engine stage), or without TensorRT the CPU artifact
    of `onnx_path`; either reused while up to date."""
    if tensorrt:
        from .engine.tensorrt_build import build_engine

        engine = engine_path(out_dir, graph, precision)
        built = steps.run("engine", engine, [graph], lambda: build_engine(graph, precision, out_dir, **engine_options),
                          (engine_metadata_path(engine),))
        return built or BuildResult.of_engine(engine, precision, 0.0)
    out = cpu_artifact_path(onnx_path, precision, out_dir)
    made = steps.run("engine", out, [onnx_path] + ([cache] if cache else []),
                     lambda: build_cpu_artifact(onnx_path, precision, out_dir, cache), (sidecar_path(out),))
    return made or CPU_ARTIFACTS[precision].result(out, precision, 0.0)
