"""Predictor: frame -> Detections, in three stages the streaming runtime times one by one."""
from __future__ import annotations

import os

import numpy as np

from ..errors import UserError
from ..keypoint_layout import KeypointLayout
from .backends import BACKENDS, Backend
from .detections import Detections
from .postprocess import to_detections
from .preprocess import Letterbox, letterbox


class Predictor:
    """`predictor(frame)` = postprocess(infer(preprocess(frame))). frame: HxWx3 uint8, RGB (bgr=True for
    OpenCV frames). Any backend with `.infer(images) -> dict` and a sidecar `.info` fits."""

    def __init__(self, backend: Backend, score_threshold: float = 0.0):
        """score_threshold: detections below it are dropped before pasting. 0 keeps every row the model
        returns (those above the model's own threshold, 0.05 for torchvision), as COCO evaluation wants;
        the streaming runtime shows 0.5 and up by default."""
        self.backend = backend
        self.score_threshold = score_threshold
        info = backend.info
        self.input_size: tuple[int, int] = tuple(info["input_size"])
        self.class_names: list[str] = list(info["classes"])
        self.precision: str = info["precision"]
        self.backend_name: str = backend.name
        self.paste: str = info.get("paste", "torchvision")  # older sidecars: torchvision's
        self.keypoint_decode: str = info.get("keypoint_decode", "torchvision")  # older sidecars: torchvision's
        self.heads: tuple[str, ...] = tuple(info.get("heads", ("mask",)))  # older sidecars: Mask R-CNN's
        layout = info.get("keypoint_layout")
        self.keypoint_layout = KeypointLayout.from_json(layout) if layout else None

    @classmethod
    def from_onnx(cls, path: str, threads: int | None = None, score_threshold: float = 0.0) -> "Predictor":
        """A model.onnx (or its int8/bf16 flavours) on ONNX Runtime's CPU provider; threads: intra-op threads."""
        from .backends.onnxruntime_backend import OnnxRuntimeBackend

        return cls(OnnxRuntimeBackend(path, threads), score_threshold)

    @classmethod
    def from_engine(cls, path: str, score_threshold: float = 0.0, cuda_graph: bool = False) -> "Predictor":
        """A TensorRT .engine (its .engine.json beside it) on the GPU; cuda_graph: replay one captured launch."""
        from ..engine.metadata import import_tensorrt
        from .backends.tensorrt_backend import TensorRTBackend

        if import_tensorrt() is None:
            raise UserError(f"TensorRT is not installed, so {path} cannot run here: run the .onnx model on "
                            "ONNX Runtime instead (`mrcnn-edge build` prepares it)")
        return cls(TensorRTBackend(path, cuda_graph=cuda_graph), score_threshold)

    @classmethod
    def from_path(cls, path: str, *, threads: int | None = None, score_threshold: float = 0.0,
                  cuda_graph: bool = False, backend: str = "auto", plugin_impl: str | None = None) -> "Predictor":
        """The right backend for a model: .engine on TensorRT; .onnx on `backend` (see BACKENDS), or, when the
        graph has plugin nodes (model.trt.onnx), on the plugin CPU runner with `plugin_impl` ("reference", the
        default: the plugins' CPU references; "kernels": the CUDA kernels on the CPU execution layer);
        triton://HOST:PORT/NAME (gRPC) or http://HOST:PORT/NAME (HTTP) on a Triton server. cuda_graph: replay
        the engine's copies and enqueue as one CUDA graph (TensorRT engines only)."""
        if path.startswith(("triton://", "http://")):
            from .backends.triton_backend import TritonBackend

            return cls(TritonBackend(path), score_threshold)
        if not os.path.isfile(path):
            raise UserError(f"model not found: {path} (pass an .onnx from `mrcnn-edge export`, or an .engine)")
        runtime, device = parse_backend(backend)
        if path.endswith(".engine"):
            if runtime != "auto":
                raise UserError(f"{path} is a TensorRT engine: it runs on TensorRT, not {runtime} (drop --backend, "
                                "or pass the .onnx model)")
            return cls.from_engine(path, score_threshold, cuda_graph)
        if cuda_graph:
            raise UserError(f"--cuda-graph replays a TensorRT engine's launches: {path} is not an .engine "
                            "(build one with `mrcnn-edge build`), drop --cuda-graph")
        if not path.endswith(".onnx"):
            raise UserError(f"unsupported model file {path}: pass an .onnx or .engine")
        from .backends.plugin_graph_backend import PluginGraphBackend, has_plugin_nodes

        if has_plugin_nodes(path):
            if runtime == "openvino":
                raise UserError(f"{path} has TensorRT plugin nodes, which only the plugin CPU runner executes: "
                                "pass its model.onnx to --backend openvino, or drop --backend")
            return cls(PluginGraphBackend(path, threads, plugin_impl or "reference"), score_threshold)
        if plugin_impl is not None:
            raise UserError(f"--plugin-impl chooses how plugin nodes run, and {path} has none: pass a "
                            "model.trt.onnx (`mrcnn-edge surgery`), or drop --plugin-impl")
        if runtime == "auto":
            from .backends.openvino_backend import is_installed

            runtime = "openvino" if is_installed() else "onnxruntime"
        if runtime == "openvino":
            from .backends.openvino_backend import DEFAULT_DEVICE, OpenVINOBackend

            return cls(OpenVINOBackend(path, threads, device or DEFAULT_DEVICE), score_threshold)
        return cls.from_onnx(path, threads, score_threshold)

    def preprocess(self, frame: np.ndarray, bgr: bool = False) -> tuple[np.ndarray, Letterbox]:
        """frame [h,w,3] uint8 -> (images uint8 [1,3,H,W], the letterbox to map results back)."""
        return letterbox(frame, self.input_size, bgr)

    def infer(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """The raw outputs of the contract (contract.OUTPUTS) for a letterboxed uint8 batch [B,3,H,W]."""
        return self.backend.infer(images)

    def postprocess(self, raw: dict[str, np.ndarray], meta: Letterbox, image: int = 0) -> Detections:
        """The detections of image `image` of the batch `raw` holds, in its frame's pixels."""
        limbs = self.keypoint_layout.limb_indices() if self.keypoint_layout else ()
        return to_detections(raw, meta, self.class_names, image, min_score=self.score_threshold, paste=self.paste,
                             limbs=limbs, keypoint_decode=self.keypoint_decode)

    def __call__(self, frame: np.ndarray, bgr: bool = False) -> Detections:
        images, meta = self.preprocess(frame, bgr)
        return self.postprocess(self.infer(images), meta)



def parse_backend(backend: str) -> tuple[str, str | None]:
    """'openvino:GPU' -> ('openvino', 'GPU'); 'onnxruntime' -> ('onnxruntime', None)."""
    runtime, _, device = backend.partition(":")
    if runtime not in BACKENDS or (device and runtime != "openvino"):
        raise UserError(f"unknown backend '{backend}': choose {', '.join(BACKENDS)} (openvino:<DEVICE> names an "
                        "OpenVINO device, e.g. openvino:GPU)")
    return runtime, device or None
