"""The few CUDA runtime calls the engine build and the TensorRT backend need, through cuda-python."""
from __future__ import annotations

from typing import Any

from ..errors import UserError


def cudart() -> Any:
    try:
        from cuda.bindings import runtime  # cuda-python >= 12.6.1 (12.6.0 and older: `from cuda import cudart`)
    except ImportError:
        raise UserError("cuda-python is not installed: pip install 'cuda-python>=12.6.1,<13' for CUDA 12 "
                        "(JetPack 6), or the release matching your driver's CUDA major version") from None
    return runtime


def cuda_call(result: tuple) -> Any:
    """cuda-python returns (error, *values): raise on an error, else return the value(s)."""
    runtime = cudart()
    error, *values = result
    if error != runtime.cudaError_t.cudaSuccess:
        raise RuntimeError(f"CUDA call failed: {runtime.cudaGetErrorName(error)[1].decode()}")
    return values[0] if len(values) == 1 else tuple(values) or None


def gpu_info() -> dict[str, str]:
    """Name and compute capability of the current device: what an engine is tied to."""
    runtime = cudart()
    error, device = runtime.cudaGetDevice()
    if error != runtime.cudaError_t.cudaSuccess:
        raise UserError(f"no usable CUDA GPU ({runtime.cudaGetErrorName(error)[1].decode()}): "
                        "TensorRT engines build and run on a GPU with its driver installed")
    props = cuda_call(runtime.cudaGetDeviceProperties(device))
    return {"gpu": props.name.decode().rstrip("\0"), "compute_capability": f"{props.major}.{props.minor}"}
