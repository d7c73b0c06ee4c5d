"""mrcnn-edge: real-time Mask R-CNN on Jetson and data-center GPUs (TensorRT) and CPUs (ONNX Runtime)."""
from ._version import __version__

__all__ = ["__version__"]
