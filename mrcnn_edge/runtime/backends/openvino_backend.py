"""OpenVINO backend: runs model.onnx (and its fp16/int8/bf16 variants) with Intel's OpenVINO runtime.

Same interface as OnnxRuntimeBackend: `infer(images uint8 [B,3,H,W]) -> dict of the contract's outputs`,
plus `name`, `info` (the sidecar fields) and `input_shape`. The graph is prepared in memory:
  * the mask branch cut to the detected rows (`mask_rows.py`), the pass the ORT backend applies. It
    finds the NMS by its outputs, so it runs before inlining, while the NMS is still one region call;
  * the regions (ONNX local functions of the `mrcnn_edge.regions` domain) inlined, since OpenVINO's
    ONNX reader does not take local functions.
The inference precision is pinned to what the sidecar says. OpenVINO's default on a CPU with
AVX512-BF16 or AMX is bf16, whose detections differ from fp32's, so an fp32 artifact must say f32.
The compiled model is cached on disk (OpenVINO's CACHE_DIR), next to the model and keyed as the ORT
optimised-model cache is, so a second start imports the compiled blob instead of compiling again.
"""
from __future__ import annotations

import os
import shutil

import numpy as np

from ...contract import INPUT, check_contract, graph_io
from ...errors import UserError
from ...files import REEXPORT
from ...sidecar import read_sidecar
from ...threads import requested_threads
from ..preprocess import check_images
from . import note
from .mask_rows import pad_head_rows, trim_mask_rows
from .onnx_common import cache_key, stale_caches

PASSES = "trim_mask_rows,inline_local_functions"  # applied to the graph before OpenVINO compiles it
DEFAULT_DEVICE = "CPU"
# The artifact's precision -> OpenVINO's INFERENCE_PRECISION_HINT for the layers it computes in float.
# fp16 artifacts: the graph's own Casts already round what they cover to half; the CPU has no fp16
# arithmetic (no AVX512-FP16 here), so OpenVINO computes them in f32 (see benchmarks/results/cpu_backends.md).
# int8: the Q/DQ layers run in int8; what the graph keeps in float stays f32, as on ONNX Runtime.
INFERENCE_PRECISION = {"fp32": "f32", "fp16": "f32", "int8": "f32", "bf16": "bf16"}


def is_installed() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def cache_dir(model_path: str) -> str:
    """OpenVINO's CACHE_DIR for a model: next to it, keyed by `cache_key` (size, mtime, graph passes)."""
    return f"{os.path.splitext(model_path)[0]}.{cache_key(model_path, PASSES)}.ov_cache"


def cpu_has_bf16(core) -> bool:
    """Whether OpenVINO's CPU plugin computes bf16 natively (AVX512-BF16 or AMX)."""
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVINOBackend:
    """images uint8 [B,3,H,W] -> dict of the contract's output arrays."""

    name = "openvino"

    def __init__(self, path: str, threads: int | None = None, device: str = DEFAULT_DEVICE, cache: bool = True):
        if not is_installed():
            raise UserError("OpenVINO is not installed: `pip install openvino`, or pass --backend onnxruntime")
        import openvino as ov

        if not os.path.isfile(path):
            raise UserError(f"model not found: {path} (export one with `mrcnn-edge export`)")
        self.info = read_sidecar(path)
        self.core = ov.Core()
        self.device = device
        if device not in self.core.available_devices:
            raise UserError(f"OpenVINO sees no device '{device}' here (it sees "
                            f"{', '.join(self.core.available_devices)})")
        self.inference_precision = self._inference_precision(path)
        model = self._read(path)
        self.cache_dir = cache_dir(path) if cache else None
        config: dict[str, str | int] = {"PERFORMANCE_HINT": "LATENCY",
                                        "INFERENCE_PRECISION_HINT": self.inference_precision}
        threads = requested_threads(threads)  # else OpenVINO's own default: its physical cores
        if threads and device == "CPU":
            config["INFERENCE_NUM_THREADS"] = threads
        if self.cache_dir:
            self._remove_stale_caches(path)
            config["CACHE_DIR"] = self.cache_dir
        try:
            self.compiled = self.core.compile_model(model, device, config)
        except RuntimeError as e:
            raise UserError(f"OpenVINO could not compile {path} for {device} "
                            f"({str(e).splitlines()[0][:160]})") from None
        self.loaded_from_cache = bool(self.cache_dir) and self._property("LOADED_FROM_CACHE", False)
        self.request = self.compiled.create_infer_request()

    def _inference_precision(self, path: str) -> str:
        """The hint for the artifact's precision; bf16 falls back to f32, in one line, where the CPU lacks it."""
        precision = self.info["precision"]
        if precision not in INFERENCE_PRECISION:
            raise UserError(f"{path} says precision '{precision}', which the OpenVINO backend does not run "
                            f"(it runs {', '.join(INFERENCE_PRECISION)})")
        hint = INFERENCE_PRECISION[precision]
        if hint == "bf16" and not (self.device == "CPU" and cpu_has_bf16(self.core)):
            note(f"{os.path.basename(path)} is a bf16 artifact, but {self.device} has no bf16 arithmetic "
                 "(AVX512-BF16 or AMX): it runs in f32")
            self.info = {**self.info, "precision": "fp32"}
            return "f32"
        return hint

    def _read(self, path: str):
        """The graph with the mask branch cut to the detected rows and the regions inlined, as an ov.Model."""
        import onnx
        from onnx.inliner import inline_local_functions

        try:
            model = onnx.load(path)
        except Exception as e:  # protobuf raises its own types for files that are not ONNX
            raise UserError(f"{path} is not a loadable ONNX model ({str(e).splitlines()[0][:160]})") from None
        self._check_contract(path, model.graph)
        trim_mask_rows(model)
        model = inline_local_functions(model)
        try:
            return self.core.read_model(model.SerializeToString())
        except RuntimeError as e:
            raise UserError(f"OpenVINO cannot read {path} ({str(e).splitlines()[0][:160]})") from None

    def _check_contract(self, path: str, graph) -> None:
        self.outputs = check_contract(graph_io(graph), path, size=self.info["input_size"], fix=REEXPORT)
        dims = next(i for i in graph.input if i.name == INPUT).type.tensor_type.shape.dim
        self.input_shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "B") for d in dims]

    def _remove_stale_caches(self, path: str) -> None:
        for stale in stale_caches(path, ".ov_cache"):
            if stale != self.cache_dir:
                shutil.rmtree(stale, ignore_errors=True)

    def _property(self, name: str, default):
        try:
            return self.compiled.get_property(name)
        except RuntimeError:  # a device plugin that does not report it
            return default

    def infer(self, images: np.ndarray) -> dict[str, np.ndarray]:
        check_images(images, self.input_shape, "the model")
        results = self.request.infer({INPUT: images})  # copies the outputs out of the request's buffers
        return pad_head_rows({name: results[name] for name in self.outputs})
