"""model.<precision>.trt.onnx -> model.<precision>.engine + .engine.json, on a machine with TensorRT.

Only imported once `import_tensorrt()` found TensorRT. One code path for TensorRT 10.3+ and 11.x:
every call below exists in both (checked against the 10.3 and 11.1 Python bindings). Precision is
not a builder flag (11.x removed FP16/INT8 flags): the network is strongly typed, so the graph's own
tensor types and Q/DQ nodes decide it.
"""
from __future__ import annotations

import datetime
import json
import logging
import os
import time

import tensorrt as trt

from ..errors import UserError
from ..files import sha256_of
from ..sidecar import read_sidecar
from ..names import engine_metadata_path, engine_path
from .cuda import gpu_info
from .dla import check_dla
from .metadata import onnx_io, plugin_library
from .result import BuildResult

log = logging.getLogger(__name__)

_loaded_plugins: set[str] = set()  # loading a library twice would register its creators twice


def load_plugins(path: str) -> None:
    """Register the creators of our plugin library (its `getCreators`) with TensorRT, once per process."""
    if path in _loaded_plugins:
        return
    if trt.get_plugin_registry().load_library(path) is None:
        raise UserError(f"TensorRT {trt.__version__} could not load {path}: rebuild it against this TensorRT")
    _loaded_plugins.add(path)


def runtime_info(plugins: str) -> dict[str, str]:
    """This machine, in the terms `check_engine_metadata` compares."""
    return {"tensorrt_version": trt.__version__, **gpu_info(), "plugin_sha256": sha256_of(plugins)}


def preflight(precision: str, plugins: str | None, dla_core: int | None) -> tuple[str, dict[str, str]]:
    """Everything the engine build needs, checked before any slow step: the plugin library, cuda-python
    and a GPU (the facts `.engine.json` records), and whether the DLA can take this precision.
    Returns (plugin library path, runtime facts)."""
    library = plugin_library(plugins)
    facts = runtime_info(library)  # cuda-python missing or no GPU: one line, and no engine without metadata
    check_dla(trt.__version__, precision, dla_core)
    return library, facts


def _parse(builder: trt.Builder, onnx_path: str, logger: trt.ILogger) -> tuple[trt.INetworkDefinition, trt.OnnxParser]:
    # 10.x: strongly typed is opt-in; 11.x: always on, the flag kept and ignored, so one call fits both.
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(onnx_path):
        raise UserError(f"TensorRT cannot parse {onnx_path}: {parser.get_error(0)}")
    return network, parser  # the parser owns the weights: it must outlive the build


def _batch_profile(builder: trt.Builder, network: trt.INetworkDefinition, config: trt.IBuilderConfig,
                   max_batch: int) -> dict | None:
    """An optimisation profile when the batch axis is dynamic; H and W are fixed by the contract."""
    images = network.get_input(0)
    B, C, H, W = (images.shape[i] for i in range(4))
    if B != -1:
        return None
    profile = builder.create_optimization_profile()
    # opt = 1: kernels are tuned for the streaming runtime's single frames; Triton batches up to max.
    profile.set_shape(images.name, trt.Dims([1, C, H, W]), trt.Dims([1, C, H, W]), trt.Dims([max_batch, C, H, W]))
    config.add_optimization_profile(profile)
    return {"min": 1, "opt": 1, "max": max_batch}


def _use_dla(builder: trt.Builder, config: trt.IBuilderConfig, core: int) -> None:
    if not 0 <= core < builder.num_DLA_cores:
        raise UserError(f"--dla-core {core}: this device has {builder.num_DLA_cores} DLA cores")
    config.default_device_type = trt.DeviceType.DLA
    config.DLA_core = core
    # Layers the DLA cannot run (our plugins, NMS, gathers) go to the GPU instead of failing the build.
    config.set_flag(trt.BuilderFlag.GPU_FALLBACK)


def _use_timing_cache(config: trt.IBuilderConfig, path: str) -> None:
    """Reuse the timing cache at `path`; one from another TensorRT release or GPU is replaced by a fresh
    one with one line saying so (as NVIDIA's samples do: `create_timing_cache` returns None for a cache
    it cannot read, and `set_timing_cache` refuses a mismatched one)."""
    data = b""
    if os.path.isfile(path):
        with open(path, "rb") as f:
            data = f.read()
    cache = config.create_timing_cache(data)
    if cache is not None and config.set_timing_cache(cache, ignore_mismatch=False):
        return
    log.warning(f"timing cache {path} is from another TensorRT release or GPU: starting a fresh one")
    config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)


def build_engine(onnx_path: str, precision: str, out_dir: str, *, plugins: str | None, workspace_mb: int,
                 dla_core: int | None, timing_cache: str | None, opt_level: int, max_batch: int) -> BuildResult:
    start = time.perf_counter()
    info = read_sidecar(onnx_path)
    plugins, facts = preflight(precision, plugins, dla_core)
    load_plugins(plugins)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network, parser = _parse(builder, onnx_path, logger)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    config.builder_optimization_level = opt_level
    batch = _batch_profile(builder, network, config, max_batch)
    if dla_core is not None:
        _use_dla(builder, config, dla_core)
    timing_cache = timing_cache or os.path.join(out_dir, "tensorrt.timing.cache")
    _use_timing_cache(config, timing_cache)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise UserError(f"TensorRT could not build {onnx_path}: its log above says why")
    path = engine_path(out_dir, onnx_path, precision)
    with open(path, "wb") as f:
        f.write(memoryview(serialized))
    with open(timing_cache, "wb") as f:
        f.write(memoryview(config.get_timing_cache().serialize()))
    seconds = time.perf_counter() - start
    engine = {**facts, "plugin_library": plugins, "onnx": os.path.abspath(onnx_path),
              "onnx_sha256": sha256_of(onnx_path), "batch": batch, "dla_core": dla_core, "workspace_mb": workspace_mb,
              "opt_level": opt_level, "io": onnx_io(onnx_path), "build_seconds": round(seconds, 1),
              "built_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    with open(engine_metadata_path(path), "w") as f:
        json.dump({**info, "precision": precision, "engine": engine}, f, indent=2)
    del parser
    return BuildResult.of_engine(path, precision, seconds)
