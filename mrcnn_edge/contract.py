"""The output contract every graph, engine and served model speaks (ARCHITECTURE.md): tensor -> dtype.

One source for the exporter's checks, the backends and the Triton config, so they cannot drift.
"""
INPUT = "images"
CONTRACT = {INPUT: "uint8", "num_detections": "int32", "boxes": "float32", "scores": "float32",
            "classes": "int32", "masks": "float32"}
OUTPUTS = tuple(name for name in CONTRACT if name != INPUT)
