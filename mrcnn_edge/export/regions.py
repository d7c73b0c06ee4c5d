"""The two regions of the deploy graph that TensorRT runs as plugins: multi-level RoIAlign and batched NMS.

Each region is one `torch.library` custom op whose signature equals the plugin's interface
(`MultilevelRoIAlign_TRT`, `BatchedNMS_TRT`). Eagerly it runs torchvision's own code (the oracle);
at export it becomes one call of an ONNX local function in the domain `mrcnn_edge.regions`
(see `onnx_functions.py`), so graph surgery finds it by its op type and swaps one node for one node.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor
from torchvision.ops import batched_nms as tv_batched_nms
from torchvision.ops.poolers import LevelMapper

from ..model.detectron2_arch import multiscale_roi_align

LEVEL_MAPPER_EPS = 1e-6  # torchvision's LevelMapper default


@torch.library.custom_op("mrcnn_edge::multilevel_roi_align", mutates_args=())
def multilevel_roi_align(rois: Tensor, features: list[Tensor], output_size: int, sampling_ratio: int,
                         aligned: bool, spatial_scales: list[float], canonical_scale: int,
                         canonical_level: int) -> Tensor:
    """RoIAlign of each RoI on its FPN level, as `torchvision.ops.MultiScaleRoIAlign` (aligned: with
    RoIAlign's half-pixel shift, detectron2's ROIAlignV2).

    rois [B,R,4] x1,y1,x2,y2 in input pixels; features[l] [B,C,H_l,W_l] with stride 1/spatial_scales[l].
    Returns [B,R,C,S,S], S = output_size.
    """
    B, R, _ = rois.shape
    k_min = round(-math.log2(spatial_scales[0]))
    k_max = round(-math.log2(spatial_scales[-1]))
    mapper = LevelMapper(k_min, k_max, canonical_scale, canonical_level, LEVEL_MAPPER_EPS)
    pooled = multiscale_roi_align(list(features), list(rois.unbind(0)), output_size, sampling_ratio,
                                  list(spatial_scales), mapper, aligned)
    return pooled.reshape(B, R, *pooled.shape[1:])


@multilevel_roi_align.register_fake
def _(rois, features, output_size, sampling_ratio, aligned, spatial_scales, canonical_scale, canonical_level):
    B, R, _ = rois.shape
    return rois.new_empty((B, R, features[0].shape[1], output_size, output_size))


@torch.library.custom_op("mrcnn_edge::batched_nms", mutates_args=())
def batched_nms(boxes: Tensor, scores: Tensor, categories: Tensor, iou_threshold: float,
                score_threshold: float, max_output: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """NMS within each category (`torchvision.ops.batched_nms`) of the boxes scoring > score_threshold.

    boxes [B,N,4], scores [B,N], categories [B,N] int32. Returns, K = max_output, in descending score:
    num_detections [B] int32, indices [B,K] int32 (-1 padded), boxes [B,K,4], scores [B,K],
    classes [B,K] int32; padding rows of boxes, scores and classes are 0.
    """
    B, N, _ = boxes.shape
    indices = torch.full((B, max_output), -1, dtype=torch.int32)
    num_detections = torch.zeros(B, dtype=torch.int32)
    for b in range(B):
        candidates = torch.where(scores[b] > score_threshold)[0]
        keep = tv_batched_nms(boxes[b, candidates], scores[b, candidates], categories[b, candidates], iou_threshold)
        keep = candidates[keep[:max_output]]
        indices[b, : len(keep)] = keep.to(torch.int32)
        num_detections[b] = len(keep)
    valid = indices >= 0
    gather = indices.clamp(min=0).long()
    out_boxes = torch.gather(boxes, 1, gather[..., None].expand(B, max_output, 4)) * valid[..., None]
    out_scores = torch.gather(scores, 1, gather) * valid
    out_classes = torch.gather(categories, 1, gather) * valid
    return num_detections, indices, out_boxes, out_scores, out_classes.to(torch.int32)


@batched_nms.register_fake
def _(boxes, scores, categories, iou_threshold, score_threshold, max_output):
    B = boxes.shape[0]
    return (boxes.new_empty((B,), dtype=torch.int32), boxes.new_empty((B, max_output), dtype=torch.int32),
            boxes.new_empty((B, max_output, 4)), boxes.new_empty((B, max_output)),
            boxes.new_empty((B, max_output), dtype=torch.int32))
