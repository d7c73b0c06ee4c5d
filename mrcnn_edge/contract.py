"""The output contract every graph, engine and served model speaks (ARCHITECTURE.md): tensor -> dtype.

One source for the exporter, the backends, the Triton and DeepStream configs, so they cannot drift.
Every model has the detection outputs; each head a model has (masks, keypoints) adds its own output,
and a model without that head leaves it out.
"""
from __future__ import annotations

from typing import Iterable

INPUT = "images"
CONTRACT = {INPUT: "uint8", "num_detections": "int32", "boxes": "float32", "scores": "float32",
            "classes": "int32", "masks": "float32", "keypoint_heatmaps": "float32"}
DETECTION_OUTPUTS = ("num_detections", "boxes", "scores", "classes")
# head -> its output: masks [B,K,M,M] probabilities of each detection's own class; keypoint_heatmaps
# [B,K,J,S,S] logits, one heatmap per keypoint (decoded to points on the host, as torchvision does)
HEAD_OUTPUTS = {"mask": "masks", "keypoint": "keypoint_heatmaps"}
OUTPUTS = (*DETECTION_OUTPUTS, HEAD_OUTPUTS["mask"])  # a Mask R-CNN's outputs


def outputs_for(heads: Iterable[str]) -> tuple[str, ...]:
    """The outputs of a model with these heads ("mask", "keypoint"), in contract order."""
    heads = set(heads)
    unknown = heads - set(HEAD_OUTPUTS)
    if unknown:
        raise ValueError(f"unknown heads {sorted(unknown)}: the contract knows {sorted(HEAD_OUTPUTS)}")
    return (*DETECTION_OUTPUTS, *(out for head, out in HEAD_OUTPUTS.items() if head in heads))


def heads_of(output_names: Iterable[str]) -> tuple[str, ...]:
    """The heads a graph has, read off its output names."""
    names = set(output_names)
    return tuple(head for head, out in HEAD_OUTPUTS.items() if out in names)
