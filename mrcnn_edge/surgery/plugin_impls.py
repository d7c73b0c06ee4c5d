"""How model.trt.onnx's plugin nodes run on the CPU (`--plugin-impl`): "reference", the plugins' C++ CPU
references; "kernels", the CUDA kernels themselves on our CPU execution layer (plugins/cpu_exec), the code a GPU
runs. A module of its own so that the CLI can offer the choice without importing onnx."""
from __future__ import annotations

from ..errors import UserError

PLUGIN_IMPLS = ("reference", "kernels")


def check_plugin_impl(impl: str) -> str:
    if impl not in PLUGIN_IMPLS:
        raise UserError(f"unknown plugin implementation '{impl}': choose {' or '.join(PLUGIN_IMPLS)}")
    return impl
