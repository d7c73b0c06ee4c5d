"""detectron2's Mask R-CNN R-50/R-101-FPN (COCO-InstanceSegmentation/mask_rcnn_R_*_FPN_{1x,3x}) and Keypoint
R-CNN R-50-FPN (COCO-Keypoints/keypoint_rcnn_R_50_FPN_{1x,3x}), assembled from torchvision's modules with
detectron2's conventions (`conventions.DETECTRON2`).

Only two modules are subclassed, each for one named option: the anchor generator (no rounding of the cell
anchors, fixed strides) and the pooler (RoIAlign with `aligned`). Everything else is torchvision's: ResNet
with FrozenBatchNorm (the stride moved into the 1x1 conv), FPN with P6 by max-pool, RPN head, TwoMLPHead
(2 FC of 1024), Fast R-CNN predictor, 4-conv mask head, deconv and predictor, or the keypoint head (8 convs
of 512, KRCNNConvDeconvUpsampleHead's layers) and predictor (deconv, bilinear 2x). Weights come from
detectron2's key layout through `detectron2_checkpoint.py`, which moves the background class to index 0.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor
from torchvision.models import resnet50, resnet101
from torchvision.models.detection import KeypointRCNN, MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.keypoint_rcnn import KeypointRCNNHeads, KeypointRCNNPredictor
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops import MultiScaleRoIAlign, roi_align
from torchvision.ops.misc import FrozenBatchNorm2d
from torchvision.ops.poolers import LevelMapper, _filter_input, _setup_scales

from .conventions import DETECTRON2, Conventions

R50, R101 = "detectron2_mask_rcnn_R_50_FPN", "detectron2_mask_rcnn_R_101_FPN"
KEYPOINT_R50 = "detectron2_keypoint_rcnn_R_50_FPN"
RES4_BLOCKS = {R50: 6, R101: 23}  # how the two are told apart in a checkpoint
KEYPOINT_RES4_BLOCKS = {KEYPOINT_R50: 6}


class CellAnchorGenerator(AnchorGenerator):
    """torchvision's AnchorGenerator with detectron2's cell anchors (DefaultAnchorGenerator): unrounded
    w = sqrt(size^2 / ratio), h = ratio * w, and fixed strides (torchvision infers them from the map size,
    which is wrong for P6 when a side is not a multiple of 64). round_cells: round them as torchvision."""

    def __init__(self, sizes, aspect_ratios, strides: tuple[int, ...], offset: float = 0.0, round_cells: bool = False):
        self.strides, self.offset, self.round_cells = tuple(strides), offset, round_cells
        super().__init__(sizes, aspect_ratios)

    def generate_anchors(self, scales, aspect_ratios, dtype=torch.float32, device=torch.device("cpu")) -> Tensor:
        anchors = []
        for size in scales:  # detectron2's order: size-major, then aspect ratio; computed in double
            for ratio in aspect_ratios:
                w = math.sqrt(size ** 2.0 / ratio)
                h = ratio * w
                anchors.append([-w / 2.0, -h / 2.0, w / 2.0, h / 2.0])
        anchors = torch.tensor(anchors, dtype=dtype, device=device)
        return anchors.round() if self.round_cells else anchors

    def forward(self, image_list, feature_maps: list[Tensor]) -> list[Tensor]:
        self.set_cell_anchors(feature_maps[0].dtype, feature_maps[0].device)
        anchors = []
        for feature_map, stride, cell in zip(feature_maps, self.strides, self.cell_anchors):
            H, W = feature_map.shape[-2:]
            shifts_x = torch.arange(self.offset * stride, W * stride, step=stride, dtype=torch.float32)
            shifts_y = torch.arange(self.offset * stride, H * stride, step=stride, dtype=torch.float32)
            shift_y, shift_x = torch.meshgrid(shifts_y, shifts_x, indexing="ij")
            shifts = torch.stack((shift_x.reshape(-1), shift_y.reshape(-1)) * 2, dim=1)  # x, y, x, y
            anchors.append((shifts.view(-1, 1, 4) + cell.view(1, -1, 4)).reshape(-1, 4))
        return [torch.cat(anchors)] * len(image_list.image_sizes)


def multiscale_roi_align(features: list[Tensor], boxes: list[Tensor], output_size: int, sampling_ratio: int,
                         scales: list[float], mapper: LevelMapper, aligned: bool) -> Tensor:
    """torchvision's _multiscale_roi_align with RoIAlign's `aligned` option: each box on its level."""
    rois = torch.cat([torch.cat([torch.full_like(b[:, :1], i), b], 1) for i, b in enumerate(boxes)])
    levels = mapper(boxes)
    N, C = rois.shape[0], features[0].shape[1]
    result = features[0].new_zeros((N, C, output_size, output_size))
    for level, (feature, scale) in enumerate(zip(features, scales)):
        idx = torch.where(levels == level)[0]
        result[idx] = roi_align(feature, rois[idx], (output_size, output_size), spatial_scale=scale,
                                sampling_ratio=sampling_ratio, aligned=aligned)
    return result


class AlignedMultiScaleRoIAlign(MultiScaleRoIAlign):
    """MultiScaleRoIAlign with `aligned` (detectron2's ROIAlignV2 is aligned=True, sampling_ratio=0)."""

    def __init__(self, featmap_names, output_size: int, sampling_ratio: int, aligned: bool):
        super().__init__(featmap_names, output_size, sampling_ratio)
        self.aligned = aligned

    def forward(self, x, boxes, image_shapes):
        x_filtered = _filter_input(x, self.featmap_names)
        if self.scales is None or self.map_levels is None:
            self.scales, self.map_levels = _setup_scales(x_filtered, image_shapes, self.canonical_scale,
                                                         self.canonical_level)
        return multiscale_roi_align(x_filtered, boxes, self.output_size[0], self.sampling_ratio, self.scales,
                                    self.map_levels, self.aligned)


class _BGRTransform(GeneralizedRCNNTransform):
    """The eager transform for BGR-trained weights: flip the RGB input, then normalise (mean in BGR)."""

    def normalize(self, image: Tensor) -> Tensor:
        return super().normalize(image.flip(0))


def _move_stride_to_1x1(trunk) -> None:
    """MSRA ResNets (detectron2's STRIDE_IN_1X1) stride in each stage's first 1x1 conv, not its 3x3."""
    for stage in (trunk.layer2, trunk.layer3, trunk.layer4):
        block = stage[0]
        block.conv1.stride, block.conv2.stride = block.conv2.stride, (1, 1)


def _detectron2_rcnn(trunk_fn, num_classes: int, heads, conventions: Conventions = DETECTRON2,
                     **kwargs) -> MaskRCNN | KeypointRCNN:
    """The shared trunk, RPN and box head; heads(pooler) -> the family's class and its head modules."""
    trunk = trunk_fn(weights=None, norm_layer=FrozenBatchNorm2d)  # FrozenBN eps 1e-5, as detectron2's
    if conventions.stride_in_1x1:
        _move_stride_to_1x1(trunk)
    backbone = _resnet_fpn_extractor(trunk, trainable_layers=0)  # P2-P5 + P6 by max-pool (LastLevelMaxPool)
    featmaps = ["0", "1", "2", "3"]
    anchors = CellAnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5,
                                  conventions.anchor_strides, conventions.anchor_offset,
                                  conventions.round_cell_anchors)
    pooler = lambda size: AlignedMultiScaleRoIAlign(featmaps, size, conventions.roi_sampling_ratio,  # noqa: E731
                                                    conventions.roi_aligned)
    settings = dict(  # configs/Base-RCNN-FPN.yaml and config/defaults.py, test time
        rpn_pre_nms_top_n_test=1000, rpn_post_nms_top_n_test=1000, rpn_nms_thresh=0.7,
        box_score_thresh=0.05, box_nms_thresh=0.5, box_detections_per_img=100,
        min_size=800, max_size=1333,
        image_mean=[m / 255 for m in conventions.pixel_mean],  # 0..1: the eager transform's units
        image_std=[s / 255 for s in conventions.pixel_std],
    )
    settings.update(kwargs)
    family, head_modules = heads(pooler)
    model = family(
        backbone, num_classes=None, rpn_anchor_generator=anchors,
        box_roi_pool=pooler(7), box_head=TwoMLPHead(256 * 7 * 7, 1024),
        box_predictor=FastRCNNPredictor(1024, num_classes), **head_modules, **settings,
    )
    model.rpn.min_size = conventions.proposal_min_side
    if conventions.channel_order == "BGR":
        model.transform.__class__ = _BGRTransform
    model.conventions = conventions
    return model


def _mask_heads(num_classes: int):
    """ROI_MASK_HEAD: MaskRCNNConvUpsampleHead, 4 convs of 256 on 14x14, deconv, a logit per class."""
    return lambda pooler: (MaskRCNN, dict(
        mask_roi_pool=pooler(14), mask_head=MaskRCNNHeads(256, [256] * 4, 1),
        mask_predictor=MaskRCNNPredictor(256, 256, num_classes)))


def _keypoint_heads(num_keypoints: int):
    """ROI_KEYPOINT_HEAD (Base-Keypoint-RCNN-FPN.yaml, config/defaults.py): KRCNNConvDeconvUpsampleHead,
    8 convs of 512 on 14x14, score_lowres (ConvTranspose 4x4, stride 2, padding 1) and a bilinear 2x
    upsample, which are torchvision's KeypointRCNNHeads and KeypointRCNNPredictor."""
    return lambda pooler: (KeypointRCNN, dict(
        keypoint_roi_pool=pooler(14), keypoint_head=KeypointRCNNHeads(256, [512] * 8),
        keypoint_predictor=KeypointRCNNPredictor(512, num_keypoints)))


def detectron2_mask_rcnn_R_50_FPN(*, num_classes: int = 81, **kwargs) -> MaskRCNN:
    """detectron2's mask_rcnn_R_50_FPN_{1x,3x}; num_classes counts the background (81 for COCO)."""
    return _detectron2_rcnn(resnet50, num_classes, _mask_heads(num_classes), **kwargs)


def detectron2_mask_rcnn_R_101_FPN(*, num_classes: int = 81, **kwargs) -> MaskRCNN:
    """detectron2's mask_rcnn_R_101_FPN_3x; num_classes counts the background (81 for COCO)."""
    return _detectron2_rcnn(resnet101, num_classes, _mask_heads(num_classes), **kwargs)


def detectron2_keypoint_rcnn_R_50_FPN(*, num_classes: int = 2, num_keypoints: int = 17, **kwargs) -> KeypointRCNN:
    """detectron2's keypoint_rcnn_R_50_FPN_{1x,3x}: person (num_classes 2 with the background), COCO's 17
    keypoints."""
    return _detectron2_rcnn(resnet50, num_classes, _keypoint_heads(num_keypoints), **kwargs)
