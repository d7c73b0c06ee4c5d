"""DeployMaskRCNN: torchvision's Mask R-CNN (and Keypoint R-CNN) test-time forward with static shapes, for export.

It holds the very same modules (backbone, RPN head, box coders, box, mask and keypoint heads) and weights
as the torchvision model and repeats torchvision's inference step by step (rpn.filter_proposals,
roi_heads.postprocess_detections, maskrcnn_inference; keypoint heatmaps are decoded on the host,
`runtime/keypoints.py`, because torchvision's decode resizes each heatmap to its box's size). What differs is only the shape discipline:
the input size is fixed, there is no resize (the runtime letterboxes frames), and every selection
that torchvision makes by dropping rows is made by scoring rows out and padding to a fixed count.
The data-dependent steps live inside the two regions of `regions.py`. Where a model family departs from
torchvision's forward (detectron2's input, minimum box sizes, RoIAlign `aligned`), the model's
`conventions` (model/conventions.py) say so, and this forward follows them.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import concat_box_prediction_layers
from torchvision.ops import MultiScaleRoIAlign, boxes as box_ops

from ..model.conventions import Conventions, conventions_of
from .regions import batched_nms, multilevel_roi_align

SCORED_OUT = -1.0  # the score of a row torchvision would have dropped: below every threshold (>= 0)
MIN_SIDE, MAX_SIDE, STRIDE = 320, 1344, 32


def _is_large_enough(boxes: Tensor, min_size: float, exclusive: bool = False) -> Tensor:
    """box_ops.remove_small_boxes as a mask: boxes [...,4] -> bool [...]. exclusive: sides must exceed
    min_size (detectron2's Boxes.nonempty)."""
    w, h = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    return ((w > min_size) & (h > min_size)) if exclusive else ((w >= min_size) & (h >= min_size))


def heads_of_model(model) -> tuple[str, ...]:
    """The contract's heads (contract.HEAD_OUTPUTS) a torchvision model's RoIHeads carry."""
    rh = model.roi_heads
    return tuple(head for head, has in (("mask", rh.has_mask()), ("keypoint", rh.has_keypoint())) if has)


class DeployMaskRCNN(nn.Module):
    """uint8 RGB images [B,3,H,W] -> num_detections [B], boxes [B,K,4], scores [B,K], classes [B,K], then
    per head: masks [B,K,28,28] (probabilities of each detection's own class), keypoint_heatmaps
    [B,K,J,56,56] (logits). K = box_detections_per_img."""

    def __init__(self, model: MaskRCNN, image_size: tuple[int, int]):
        super().__init__()
        self.image_size = tuple(image_size)
        self.backbone, self.rpn, self.roi_heads = model.backbone, model.rpn, model.roi_heads
        self.conventions: Conventions = conventions_of(model)
        self.heads = heads_of_model(model)
        raw = self.conventions.pixel_mean is not None  # mean/std in 0..255 units (detectron2)
        mean = self.conventions.pixel_mean if raw else model.transform.image_mean
        std = self.conventions.pixel_std if raw else model.transform.image_std
        self.register_buffer("mean", torch.tensor(mean).view(3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(3, 1, 1), persistent=False)
        anchors, anchors_per_level, spatial_scales = self._static_geometry()
        self.register_buffer("anchors", anchors, persistent=False)  # [A,4], the same for every image
        levels = torch.cat([torch.full((n,), l, dtype=torch.int32) for l, n in enumerate(anchors_per_level)])
        self.register_buffer("anchor_levels", levels, persistent=False)  # [A]
        self.anchors_per_level = anchors_per_level
        self.spatial_scales = spatial_scales  # feature map name -> 1/stride

    @torch.no_grad()
    def _static_geometry(self):
        """Anchors, anchor count per level and feature scales: functions of the input size alone."""
        H, W = self.image_size
        probe = torch.zeros(1, 3, H, W)
        features = self.backbone(probe)
        maps = list(features.values())
        anchors = self.rpn.anchor_generator(ImageList(probe, [(H, W)]), maps)[0]
        per_level = [m.shape[-2] * m.shape[-1] * a for m, a in zip(maps, self.rpn.anchor_generator.num_anchors_per_location())]
        # torchvision's _infer_scale: the nearest power of two of feature size / image size
        scales = {k: float(2 ** np.round(np.log2(m.shape[-2] / H))) for k, m in features.items()}
        return anchors, per_level, scales

    def normalize(self, images: Tensor) -> Tensor:
        """uint8 RGB -> the backbone's input: GeneralizedRCNNTransform.normalize, or detectron2's
        preprocess_image ((x - PIXEL_MEAN) / PIXEL_STD in 0..255, channels flipped for BGR weights)."""
        x = images.float()
        if self.conventions.channel_order == "BGR":
            x = x.flip(1)
        if self.conventions.pixel_mean is None:
            x = x / 255
        return (x - self.mean) / self.std

    def forward(self, images: Tensor):
        x = self.normalize(images)
        features = self.backbone(x)
        proposals = self.propose(features)
        num_detections, boxes, scores, classes = self.detect(features, proposals)
        outputs = [num_detections, boxes, scores, classes]
        if "mask" in self.heads:
            outputs.append(self.segment(features, boxes, classes))
        if "keypoint" in self.heads:
            outputs.append(self.keypoint_heatmaps(features, boxes))
        return tuple(outputs)

    def propose(self, features: dict[str, Tensor]) -> Tensor:
        """RPN (rpn.forward + filter_proposals): features -> proposals [B,P,4], P = post_nms_top_n, padded
        with zero boxes (which the box stage scores out)."""
        maps = list(features.values())
        B = maps[0].shape[0]
        objectness, deltas = concat_box_prediction_layers(*self.rpn.head(maps))  # [B*A,1], [B*A,4]
        boxes = self.rpn.box_coder.decode_single(deltas, self.anchors.repeat(B, 1)).view(B, -1, 4)
        objectness = objectness.view(B, -1)
        top_n = self.rpn._get_top_n_idx(objectness, self.anchors_per_level)  # per-level pre-NMS top-k
        probs = torch.sigmoid(objectness.gather(1, top_n))
        boxes = box_ops.clip_boxes_to_image(boxes.gather(1, top_n[..., None].expand(-1, -1, 4)), self.image_size)
        probs = torch.where(_is_large_enough(boxes, self.conventions.proposal_min_side,
                                             self.conventions.min_side_exclusive), probs, SCORED_OUT)
        # torchvision keeps scores >= score_thresh; the NMS region keeps scores > its threshold
        threshold = float(np.nextafter(np.float32(self.rpn.score_thresh), np.float32(-np.inf)))
        levels = self.anchor_levels[top_n]
        _, _, proposals, _, _ = batched_nms(boxes, probs, levels, self.rpn.nms_thresh, threshold,
                                            self.rpn.post_nms_top_n())
        return proposals

    def _pool(self, pooler: MultiScaleRoIAlign, features: dict[str, Tensor], rois: Tensor) -> Tensor:
        """pooler (a MultiScaleRoIAlign) as the RoIAlign region: rois [B,R,4] -> [B*R,C,S,S]."""
        names = pooler.featmap_names
        pooled = multilevel_roi_align(rois, [features[n] for n in names], pooler.output_size[0],
                                      pooler.sampling_ratio, self.conventions.roi_aligned,
                                      [self.spatial_scales[n] for n in names],
                                      pooler.canonical_scale, pooler.canonical_level)
        return pooled.reshape(-1, *pooled.shape[2:])  # -1, not B*R: see segment
    def detect(self, features: dict[str, Tensor], proposals: Tensor):
        """Box head and roi_heads.postprocess_detections: -> num [B], boxes [B,K,4], scores [B,K], classes [B,K]."""
        heads = self.roi_heads
        B, P, _ = proposals.shape
        box_features = heads.box_head(self._pool(heads.box_roi_pool, features, proposals))
        class_logits, box_regression = heads.box_predictor(box_features)
        num_classes = class_logits.shape[-1]
        boxes = heads.box_coder.decode_single(box_regression, proposals.reshape(-1, 4))
        boxes = box_ops.clip_boxes_to_image(boxes.view(B, P, num_classes, 4), self.image_size)
        scores = torch.softmax(class_logits, -1).view(B, P, num_classes)
        # every (proposal, class) pair but the background is a candidate, proposal-major as torchvision
        boxes, scores = boxes[:, :, 1:].reshape(B, -1, 4), scores[:, :, 1:].reshape(B, -1)
        classes = torch.arange(1, num_classes, dtype=torch.int32).repeat(P).expand(B, -1)
        scores = torch.where(self._is_candidate(boxes, proposals), scores, SCORED_OUT)
        num, _, boxes, scores, classes = batched_nms(boxes, scores, classes, heads.nms_thresh, heads.score_thresh,
                                                     heads.detections_per_img)
        return num, boxes, scores, classes

    def _is_candidate(self, boxes: Tensor, proposals: Tensor) -> Tensor:
        """Which (proposal, class) rows [B,P*C'] may be detected. torchvision removes boxes smaller than
        1e-2, and the padding proposals (zero boxes) with them; detectron2 removes none, so there the
        padding rows are told by their proposal (real ones have both sides > 0)."""
        c = self.conventions
        if c.detection_min_side is not None:
            return _is_large_enough(boxes, c.detection_min_side, c.min_side_exclusive)
        B, P, _ = proposals.shape
        real = _is_large_enough(proposals, 0.0, exclusive=True)  # [B,P]
        return real[:, :, None].expand(B, P, boxes.shape[1] // P).reshape(B, -1)

    def segment(self, features: dict[str, Tensor], boxes: Tensor, classes: Tensor) -> Tensor:
        """Mask head and maskrcnn_inference: boxes [B,K,4], classes [B,K] -> probabilities [B,K,M,M].

        No shape here names K (the reshapes say -1 and the class is picked by broadcasting), so the ONNX
        Runtime backend can cut the mask branch to the rows that hold detections (`trim_mask_rows`).
        """
        heads = self.roi_heads
        B = boxes.shape[0]
        logits = heads.mask_predictor(heads.mask_head(self._pool(heads.mask_roi_pool, features, boxes)))
        num_classes, M = logits.shape[1], logits.shape[-1]
        own_class = classes.reshape(-1, 1, 1, 1) == torch.arange(num_classes, dtype=classes.dtype).view(1, -1, 1, 1)
        logits = torch.where(own_class, logits, 0.0).sum(1)  # [B*K,M,M], exactly the own class's logits
        return logits.reshape(B, -1, M, M).sigmoid()

    def keypoint_heatmaps(self, features: dict[str, Tensor], boxes: Tensor) -> Tensor:
        """Keypoint head (roi_heads.forward up to keypointrcnn_inference): boxes [B,K,4] -> heatmap logits
        [B,K,J,S,S]. As in segment, no shape names K."""
        heads = self.roi_heads
        logits = heads.keypoint_predictor(heads.keypoint_head(self._pool(heads.keypoint_roi_pool, features, boxes)))
        return logits.reshape(boxes.shape[0], -1, *logits.shape[1:])
