"""mrcnn-edge: real-time Mask R-CNN on Jetson and data-center GPUs (TensorRT) and CPUs (ONNX Runtime).

The Python API, importable from here (loaded on first use, so `import mrcnn_edge` stays cheap):
`Predictor.from_path(model)` for any artifact the toolkit writes, `predictor(frame) -> Detections`,
`Detections.draw(frame)`, `Detections.to_coco(image_id)`, and `read_image(path)` (RGB, EXIF-upright).
"""
from ._version import __version__

# name -> module that defines it
_LAZY = {"Predictor": ".runtime.predictor", "Detections": ".runtime.detections", "read_image": ".images",
         "UserError": ".errors"}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'mrcnn_edge' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
