"""ONNX Runtime backend: runs model.onnx on the CPU (or the CUDA execution provider where present),
with the mask branch cut to the detected rows (`mask_rows.py`); outputs keep the contract's shapes."""
from __future__ import annotations

import os

import numpy as np

from ...contract import INPUT, check_contract
from ...errors import UserError
from ...files import REEXPORT, write_atomic
from ..preprocess import check_images
from . import note
from .mask_rows import pad_head_rows, trim_mask_rows
from .onnx_common import cache_key, session_io, stale_caches
from ...sidecar import read_sidecar
from ...threads import ort_session_options

PASSES = "trim_mask_rows"  # applied to the graph before ORT optimises it


def optimized_path(model_path: str) -> str:
    """Where the optimised graph is cached: next to the model, keyed by `cache_key`."""
    return f"{os.path.splitext(model_path)[0]}.{cache_key(model_path, PASSES)}.ort_opt.onnx"


class OnnxRuntimeBackend:
    """images uint8 [B,3,H,W] -> dict of the contract's output arrays."""

    name = "onnxruntime"

    def __init__(self, path: str, threads: int | None = None):
        import onnxruntime as ort

        if not os.path.isfile(path):
            raise UserError(f"model not found: {path} (export one with `mrcnn-edge export`)")
        self.info = read_sidecar(path)
        if self.info["precision"] == "bf16":  # the fp32 graph, with a precision only OpenVINO applies
            note(f"{os.path.basename(path)} is a bf16 artifact, which ONNX Runtime does not run in bf16: it runs "
                 "in fp32 (--backend openvino runs it in bf16)")
            self.info = {**self.info, "precision": "fp32"}
        cuda = "CUDAExecutionProvider" in ort.get_available_providers()
        self.providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
        self.session = self._session(ort, path, threads, cache=not cuda)  # the cache is CPU-specific
        self._check_contract(path)

    def _session(self, ort, path: str, threads: int | None, cache: bool):
        options = ort_session_options(ort, threads)
        optimized = optimized_path(path)
        try:
            if cache and os.path.isfile(optimized):
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # done once already
                return ort.InferenceSession(optimized, options, providers=self.providers)
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if not cache:
                return ort.InferenceSession(self._trimmed(path), options, providers=self.providers)
            for stale in stale_caches(path, ".ort_opt.onnx"):
                os.remove(stale)
            return self._session_writing_cache(ort, path, options, optimized)
        except Exception as e:  # ORT raises its own exception types for unreadable or invalid graphs
            raise UserError(f"{path} is not a loadable ONNX model ({str(e).splitlines()[0][:160]})") from None

    def _session_writing_cache(self, ort, path: str, options, optimized: str):
        """ORT writes the cache while the session starts: under a name of this process's own, renamed when
        whole, so that a second process starting on the same model never reads half a file; and removed
        if the session fails to start, so that no half file stays beside the model."""
        with write_atomic(optimized, suffix=f".{os.getpid()}.partial") as partial:
            options.optimized_model_filepath = partial
            return ort.InferenceSession(self._trimmed(path), options, providers=self.providers)

    @staticmethod
    def _trimmed(path: str) -> str | bytes:
        """The graph with its mask branch cut to the detected rows (mask_rows.py), or path as it is."""
        import onnx

        try:
            model = onnx.load(path)
        except Exception:  # not ONNX: let ORT name the problem
            return path
        return model.SerializeToString() if trim_mask_rows(model) else path

    def _check_contract(self, path: str) -> None:
        self.outputs = check_contract(session_io(self.session), path, size=self.info["input_size"], fix=REEXPORT)
        self.input_shape = next(i.shape for i in self.session.get_inputs() if i.name == INPUT)

    def infer(self, images: np.ndarray) -> dict[str, np.ndarray]:
        check_images(images, self.input_shape, "the model")  # [B,3,H,W]; a symbolic B is a str
        return pad_head_rows(dict(zip(self.outputs, self.session.run(list(self.outputs), {INPUT: images}))))
