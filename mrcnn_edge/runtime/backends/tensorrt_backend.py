"""TensorRT backend: runs model.<precision>.engine on the GPU (cuda-python, no pycuda).

Same interface as OnnxRuntimeBackend: `infer(images uint8 [B,3,H,W]) -> dict of the contract's
outputs`, plus `name`, `info` (the sidecar fields) and `input_shape`. Memory: one pinned host buffer
and one device buffer per tensor, one stream, asynchronous copies. The input stays uint8 (the graph
normalises), so the upload is a quarter of a float one. With `cuda_graph=True` the copies and the
enqueue are captured once per input shape and replayed, which saves the launch overhead of many
small kernels (worth most on Jetson's slower CPU cores).
"""
from __future__ import annotations

import ctypes
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ...engine.cuda import cuda_call, cudart
from ...engine.metadata import check_engine_metadata, import_tensorrt, plugin_library, read_engine_metadata
from ...errors import UserError
from ..preprocess import check_images
from ...contract import INPUT, heads_of, outputs_for

if TYPE_CHECKING:
    import tensorrt as trt


class _PinnedBuffer:
    """Page-locked host memory viewed as a numpy array, plus its device twin."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype):
        runtime = cudart()
        self.nbytes = int(np.prod(shape)) * dtype.itemsize
        self.host_ptr = cuda_call(runtime.cudaMallocHost(self.nbytes))
        self.device = cuda_call(runtime.cudaMalloc(self.nbytes))
        raw = ctypes.cast(ctypes.c_void_p(self.host_ptr), ctypes.POINTER(ctypes.c_ubyte))
        self.host = np.ctypeslib.as_array(raw, (self.nbytes,)).view(dtype).reshape(shape)

    def free(self) -> None:
        runtime = cudart()
        cuda_call(runtime.cudaFreeHost(self.host_ptr))
        cuda_call(runtime.cudaFree(self.device))


class TensorRTBackend:
    """images uint8 [B,3,H,W] -> dict of the contract's output arrays."""

    name = "tensorrt"

    def __init__(self, path: str, *, plugins: str | None = None, cuda_graph: bool = False):
        if import_tensorrt() is None:
            raise UserError("TensorRT is not installed, so an .engine cannot run here: "
                            "run the .onnx model on ONNX Runtime instead")
        from ...engine.tensorrt_build import load_plugins, runtime_info
        import tensorrt as trt

        if not os.path.isfile(path):
            raise UserError(f"engine not found: {path} (build one with `mrcnn-edge build`)")
        meta = read_engine_metadata(path)
        plugins = plugin_library(plugins)
        check_engine_metadata(meta, runtime_info(plugins), engine=path)
        load_plugins(plugins)
        self.info = meta
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        with open(path, "rb") as f:
            self.engine: trt.ICudaEngine = self._runtime.deserialize_cuda_engine(f.read())
        if self.engine is None:
            raise UserError(f"TensorRT could not load {path}: rebuild it with `mrcnn-edge build`")
        self.context: trt.IExecutionContext = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.outputs = outputs_for(heads_of(names) or ("mask",))  # the engine's own heads
        shape = self.engine.get_tensor_shape(INPUT)
        self.input_shape: list[Any] = [shape[i] if shape[i] >= 0 else "B" for i in range(len(shape))]
        self.stream = cuda_call(cudart().cudaStreamCreate())
        self.cuda_graph = cuda_graph
        self._shape: tuple[int, ...] | None = None
        self._buffers: dict[str, _PinnedBuffer] = {}
        self._graph_exec: Any = None

    def _allocate(self, shape: tuple[int, ...]) -> None:
        """Buffers for one input shape (a new batch size re-allocates; the size itself is fixed)."""
        import tensorrt as trt

        self._release()
        if not self.context.set_input_shape(INPUT, shape):
            raise UserError(f"the engine does not take a batch of {shape[0]}: rebuild it with a larger --max-batch")
        for name in (INPUT, *self.outputs):
            dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))
            dims = self.context.get_tensor_shape(name)
            self._buffers[name] = _PinnedBuffer(tuple(dims[i] for i in range(len(dims))), dtype)
            self.context.set_tensor_address(name, self._buffers[name].device)
        self._shape = shape
        if self.cuda_graph:
            self._graph_exec = self._capture()

    def _enqueue(self) -> None:
        runtime = cudart()
        h2d, d2h = runtime.cudaMemcpyKind.cudaMemcpyHostToDevice, runtime.cudaMemcpyKind.cudaMemcpyDeviceToHost
        images = self._buffers[INPUT]
        cuda_call(runtime.cudaMemcpyAsync(images.device, images.host_ptr, images.nbytes, h2d, self.stream))
        if not self.context.execute_async_v3(self.stream):
            raise RuntimeError("TensorRT execute_async_v3 failed: see its log above")
        for name in self.outputs:
            out = self._buffers[name]
            cuda_call(runtime.cudaMemcpyAsync(out.host_ptr, out.device, out.nbytes, d2h, self.stream))

    def _capture(self) -> Any:
        """Record copies + enqueue as one CUDA graph. TensorRT wants one plain enqueue first after a
        shape change (it does deferred work there that must not be captured)."""
        runtime = cudart()
        self._enqueue()
        cuda_call(runtime.cudaStreamSynchronize(self.stream))
        mode = runtime.cudaStreamCaptureMode.cudaStreamCaptureModeGlobal
        cuda_call(runtime.cudaStreamBeginCapture(self.stream, mode))
        self._enqueue()
        graph = cuda_call(runtime.cudaStreamEndCapture(self.stream))
        graph_exec = cuda_call(runtime.cudaGraphInstantiate(graph, 0))
        cuda_call(runtime.cudaGraphDestroy(graph))
        return graph_exec

    def infer(self, images: np.ndarray) -> dict[str, np.ndarray]:
        check_images(images, self.input_shape, "the engine")
        if images.shape != self._shape:
            self._allocate(images.shape)
        np.copyto(self._buffers[INPUT].host, images)
        runtime = cudart()
        if self._graph_exec is not None:
            cuda_call(runtime.cudaGraphLaunch(self._graph_exec, self.stream))
        else:
            self._enqueue()
        cuda_call(runtime.cudaStreamSynchronize(self.stream))
        # copies: the pinned buffers are overwritten by the next frame
        return {name: self._buffers[name].host.copy() for name in self.outputs}

    def _release(self) -> None:
        if self._graph_exec is not None:
            cuda_call(cudart().cudaGraphExecDestroy(self._graph_exec))
            self._graph_exec = None
        for buffer in self._buffers.values():
            buffer.free()
        self._buffers.clear()
        self._shape = None

    def close(self) -> None:
        """Free GPU and pinned memory now rather than at interpreter exit."""
        self._release()
        if self.stream is not None:
            cuda_call(cudart().cudaStreamDestroy(self.stream))
            self.stream = None
