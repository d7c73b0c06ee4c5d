"""CPU backend for TensorRT-ready graphs (`model.trt.onnx`): ONNX Runtime plus, for the plugin nodes, the
plugins' CPU reference or the CUDA kernels themselves on the CPU execution layer (`plugin_impl`).

It exists so a graph can be checked on any machine before it is taken to a Jetson; it is not a fast path.
"""
from __future__ import annotations

import os

import numpy as np

from ...errors import UserError
from ...sidecar import read_sidecar


class PluginGraphBackend:
    def __init__(self, path: str, threads: int | None = None, plugin_impl: str = "reference"):
        from ...surgery.cpu_runner import PluginGraphRunner

        if not os.path.isfile(path):
            raise UserError(f"model not found: {path} (make one with `mrcnn-edge surgery`)")
        self.info = read_sidecar(path)
        self.runner = PluginGraphRunner(path, threads, plugin_impl)
        self.name = f"onnxruntime+plugin-{plugin_impl}"

    def infer(self, images: np.ndarray) -> dict[str, np.ndarray]:
        return self.runner.run({"images": images})


def has_plugin_nodes(path: str) -> bool:
    from ...files import REEXPORT, read_onnx
    from ...surgery.plugins import PLUGIN_DOMAIN

    model = read_onnx(path, weights=False, fix=REEXPORT)
    return any(o.domain == PLUGIN_DOMAIN for o in model.opset_import)
