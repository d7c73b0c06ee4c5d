"""The Mask R-CNN architectures mrcnn-edge deploys, built from torchvision's own modules.

The two ResNet-50-FPN builders are torchvision's, so torchvision checkpoints load unchanged. The light
architecture assembles the same torchvision modules (MobileNetV3 trunk, FPN, RPN, RoI heads) at a
smaller width for CPUs and small Jetsons. The MobileNetV3-Large FPN architecture is torchvision's COCO
Faster R-CNN of that name, tensor for tensor, plus a mask head, so its COCO file is a starting point.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from torch import nn
from torchvision.models import mobilenet_v3_large
from torchvision.models.detection import (KeypointRCNN, MaskRCNN, keypointrcnn_resnet50_fpn, maskrcnn_resnet50_fpn,
                                          maskrcnn_resnet50_fpn_v2)
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.keypoint_rcnn import KeypointRCNNHeads, KeypointRCNNPredictor
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops import FrozenBatchNorm2d, MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from .detectron2_arch import KEYPOINT_R50 as D2_KEYPOINT_R50, R50 as D2_R50, R101 as D2_R101
from .detectron2_arch import (detectron2_keypoint_rcnn_R_50_FPN, detectron2_mask_rcnn_R_50_FPN,
                              detectron2_mask_rcnn_R_101_FPN)

LIGHT_ARCH = "maskrcnn_mobilenet_v3_large_fpn_lite"
LIGHT_KEYPOINT_ARCH = "keypointrcnn_mobilenet_v3_large_fpn_lite"
LIGHT_S8_ARCH = "maskrcnn_mobilenet_v3_large_fpn_lite_s8"
MOBILENET_FPN_ARCH = "maskrcnn_mobilenet_v3_large_fpn"


def _light_backbone(fpn_channels: int, taps: int = 3) -> BackboneWithFPN:
    """MobileNetV3-Large trunk with a narrow FPN on the outputs of its last `taps` stage-opening blocks and
    its final 1x1 conv, plus max-pool "pool".

    taps=3 (the shipped light model): maps "0" (stride 16), "1" (stride 32), "2" (the final 1x1 conv, also
    stride 32), as torchvision's `mobilenet_backbone` taps the last two. A stride-8 tap was intended; the
    shipped checkpoint was trained with these taps, so it keeps them. The poolers infer scales 1/16 and 1/32
    and so pool from "0" and "1".
    taps=4: a stride-8 map first ("0" stride 8, "1" 16, "2" and "3" 32): the poolers then pool from three
    levels, small objects from stride 8.
    """
    trunk = mobilenet_v3_large(weights=None).features  # BatchNorm stays trainable: we train from scratch
    stage_indices = [i for i, block in enumerate(trunk) if getattr(block, "_is_cn", False)] + [len(trunk) - 1]
    returned = stage_indices[-taps:]
    return BackboneWithFPN(
        trunk,
        return_layers={str(i): str(n) for n, i in enumerate(returned)},
        in_channels_list=[trunk[i].out_channels for i in returned],
        out_channels=fpn_channels,
        extra_blocks=LastLevelMaxPool(),
    )


_LIGHT_FEATMAPS = ["0", "1", "2"]
# Fewer proposals at test time than the ResNet-50 models (500 against 1000), and smaller frames.
_LIGHT_DEFAULTS = dict(
    min_size=512, max_size=512,
    rpn_pre_nms_top_n_test=500, rpn_post_nms_top_n_test=500,
    rpn_pre_nms_top_n_train=1000, rpn_post_nms_top_n_train=1000,
    box_batch_size_per_image=256, box_detections_per_img=50,
)


def _light_detector(num_classes: int, fpn_channels: int, representation_size: int, taps: int = 3) -> dict:
    """The light models' shared parts as torchvision's GeneralizedRCNN keyword arguments: backbone,
    anchors (one size per FPN map: strides 16, 32, 32, 64; with the stride-8 tap 8, 16, 32, 32, 64), box
    RoIAlign, narrow box head."""
    anchor_sizes = ((16,), (32,), (64,), (128,), (256,))[4 - taps:]
    return dict(
        backbone=_light_backbone(fpn_channels, taps), num_classes=None,
        rpn_anchor_generator=AnchorGenerator(anchor_sizes, ((0.5, 1.0, 2.0),) * len(anchor_sizes)),
        box_roi_pool=MultiScaleRoIAlign(featmap_names=_LIGHT_FEATMAPS, output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(fpn_channels * 7 * 7, representation_size),
        box_predictor=FastRCNNPredictor(representation_size, num_classes),
    )


def maskrcnn_mobilenet_v3_large_fpn_lite(
    *, num_classes: int = 5, fpn_channels: int = 128, representation_size: int = 256,
    mask_layers: tuple[int, ...] = (64, 64, 64, 64), taps: int = 3, **kwargs,
) -> MaskRCNN:
    """Mask R-CNN for edge devices: MobileNetV3-Large FPN, narrow box head, narrow mask head.

    taps: 3 (strides 16-64, the shipped model) or 4 (a stride-8 map first, for small objects: LIGHT_S8_ARCH).
    Keyword arguments are MaskRCNN's (min_size, rpn_post_nms_top_n_test, box_score_thresh, ...).
    """
    return MaskRCNN(
        **_light_detector(num_classes, fpn_channels, representation_size, taps),
        mask_roi_pool=MultiScaleRoIAlign(featmap_names=_LIGHT_FEATMAPS, output_size=14, sampling_ratio=2),
        mask_head=MaskRCNNHeads(fpn_channels, list(mask_layers), 1),
        mask_predictor=MaskRCNNPredictor(mask_layers[-1], mask_layers[-1], num_classes),
        **{**_LIGHT_DEFAULTS, **kwargs},
    )


def keypointrcnn_mobilenet_v3_large_fpn_lite(
    *, num_classes: int = 2, num_keypoints: int = 11, fpn_channels: int = 128, representation_size: int = 256,
    keypoint_layers: tuple[int, ...] = (128, 128, 128, 128), **kwargs,
) -> KeypointRCNN:
    """Keypoint R-CNN on the light Mask R-CNN's backbone and box head: the paper's keypoint head (convs on
    14x14 RoIAlign features, a deconv and a 2x upsample to one 56x56 heatmap per keypoint), narrower.
    At most 20 detections per image by default: each carries K heatmaps of 56x56 off the device."""
    return KeypointRCNN(
        **_light_detector(num_classes, fpn_channels, representation_size),
        keypoint_roi_pool=MultiScaleRoIAlign(featmap_names=_LIGHT_FEATMAPS, output_size=14, sampling_ratio=2),
        keypoint_head=KeypointRCNNHeads(fpn_channels, list(keypoint_layers)),
        keypoint_predictor=KeypointRCNNPredictor(keypoint_layers[-1], num_keypoints),
        **{**_LIGHT_DEFAULTS, "box_detections_per_img": 20, **kwargs},
    )


# The trunk's norm layer. "frozen" is what torchvision builds on trained weights (FrozenBatchNorm2d, eps 1e-5:
# its COCO file was trained so); "batch" trains the statistics too, with MobileNetV3's own BatchNorm settings
# (eps 1e-3, momentum 0.01: those its ImageNet weights were trained with), for training from scratch or with
# large batches. A checkpoint records which (checkpoint.py, build_settings): eps differs, and only BatchNorm
# has num_batches_tracked, so a model must be rebuilt with the norm it was trained with.
NORMS: dict[str, Callable[..., nn.Module]] = {
    "frozen": FrozenBatchNorm2d,
    "batch": partial(nn.BatchNorm2d, eps=0.001, momentum=0.01),
}


def _mobilenet_fpn_backbone(norm: str) -> BackboneWithFPN:
    """torchvision's `_mobilenet_extractor(mobilenet_v3_large(), fpn=True)`: FPN of 256 channels on the outputs
    of the last stage-opening block ("0") and of the final 1x1 conv ("1"), both stride 32 (torchvision does not
    dilate this trunk), plus max-pool "pool" (stride 64). Same modules, so the same state-dict keys."""
    from ..errors import UserError

    if norm not in NORMS:
        raise UserError(f"unknown norm '{norm}': choose one of {', '.join(NORMS)}")
    trunk = mobilenet_v3_large(weights=None, norm_layer=NORMS[norm]).features
    stage_indices = [0] + [i for i, block in enumerate(trunk) if getattr(block, "_is_cn", False)] + [len(trunk) - 1]
    returned = stage_indices[-2:]
    return BackboneWithFPN(
        trunk,
        return_layers={str(i): str(n) for n, i in enumerate(returned)},
        in_channels_list=[trunk[i].out_channels for i in returned],
        out_channels=256,
        extra_blocks=LastLevelMaxPool(),
    )


# The poolers' maps, named: torchvision's default names "0".."3" of which only two exist here, and our deploy
# forward (export/deploy.py `_pool`) takes the pooler's names as they are. Both are stride 32, so the level
# mapper puts every RoI on "0" (k_min = k_max = 5), in torchvision eager and in the plugin alike.
_MOBILENET_FPN_FEATMAPS = ["0", "1"]
# Five sizes on each of the three maps, three ratios: torchvision's anchors for this backbone (15 per place).
_MOBILENET_FPN_ANCHORS = ((32, 64, 128, 256, 512),) * 3


def maskrcnn_mobilenet_v3_large_fpn(
    *, num_classes: int = 91, norm: str = "frozen", mask_layers: tuple[int, ...] = (128, 128, 128, 128), **kwargs,
) -> MaskRCNN:
    """Mask R-CNN on torchvision's COCO `fasterrcnn_mobilenet_v3_large_fpn`: its backbone, FPN, RPN and box
    head exactly (1024-wide TwoMLPHead, RPN score threshold 0.05), so that file's state dict loads with only
    the mask head missing; plus a mask head of four 3x3 convs on 14x14 RoIAlign features.

    mask_layers: 128 wide, not torchvision's 256. Per detection the head costs 4 convs on 14x14, quadratic in
    the width: 50 RoIs took 516 ms at 256 against 115 ms for the whole backbone and FPN at 512x512 (one
    thread, measured), 180 ms at 128, 70 ms at 64. 128 keeps the paper's depth at a third of the time.
    norm: the trunk's norm layer, "frozen" or "batch" (NORMS). Keyword arguments are MaskRCNN's test-time
    settings; the defaults are the light architecture's sizes (512x512, 500 proposals, 50 detections).
    """
    anchors = AnchorGenerator(_MOBILENET_FPN_ANCHORS, ((0.5, 1.0, 2.0),) * len(_MOBILENET_FPN_ANCHORS))
    return MaskRCNN(
        _mobilenet_fpn_backbone(norm), num_classes=None, rpn_anchor_generator=anchors,
        box_roi_pool=MultiScaleRoIAlign(featmap_names=_MOBILENET_FPN_FEATMAPS, output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(256 * 7 * 7, 1024),
        box_predictor=FastRCNNPredictor(1024, num_classes),
        mask_roi_pool=MultiScaleRoIAlign(featmap_names=_MOBILENET_FPN_FEATMAPS, output_size=14, sampling_ratio=2),
        mask_head=MaskRCNNHeads(256, list(mask_layers), 1),
        mask_predictor=MaskRCNNPredictor(mask_layers[-1], mask_layers[-1], num_classes),
        **{**_LIGHT_DEFAULTS, "rpn_score_thresh": 0.05, **kwargs},
    )


@dataclass(frozen=True)
class Architecture:
    name: str
    build: Callable[..., MaskRCNN | KeypointRCNN]
    description: str
    heads: tuple[str, ...] = ("mask",)  # the contract's heads (contract.HEAD_OUTPUTS) its graph has


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("maskrcnn_resnet50_fpn", maskrcnn_resnet50_fpn,
                     "ResNet-50-FPN v1 (He et al. 2017), torchvision weights load unchanged"),
        Architecture("maskrcnn_resnet50_fpn_v2", maskrcnn_resnet50_fpn_v2,
                     "ResNet-50-FPN v2 (Li et al. 2021): BatchNorm in FPN and heads, 4-conv box head"),
        Architecture(LIGHT_ARCH, maskrcnn_mobilenet_v3_large_fpn_lite,
                     "MobileNetV3-Large FPN (strides 16-64), narrow heads: for CPUs and small Jetsons"),
        Architecture(LIGHT_S8_ARCH, partial(maskrcnn_mobilenet_v3_large_fpn_lite, taps=4),
                     "the light model with a stride-8 FPN map first (strides 8-64): small objects' masks pool "
                     "from stride 8; the shipped model's trunk, RPN and box head load into it"),
        Architecture(MOBILENET_FPN_ARCH, maskrcnn_mobilenet_v3_large_fpn,
                     "MobileNetV3-Large FPN: torchvision's COCO fasterrcnn_mobilenet_v3_large_fpn plus a mask head "
                     "(its file loads as a starting point); norm='frozen'|'batch'"),
        Architecture("keypointrcnn_resnet50_fpn", keypointrcnn_resnet50_fpn,
                     "Keypoint R-CNN ResNet-50-FPN (He et al. 2017): COCO's 17 person keypoints, torchvision "
                     "weights load unchanged", heads=("keypoint",)),
        Architecture(LIGHT_KEYPOINT_ARCH, keypointrcnn_mobilenet_v3_large_fpn_lite,
                     "Keypoint R-CNN on the light backbone: for CPUs and small Jetsons", heads=("keypoint",)),
        Architecture(D2_R50, detectron2_mask_rcnn_R_50_FPN,
                     "detectron2 mask_rcnn_R_50_FPN_{1x,3x}: its .pkl/.pth load, its conventions as options"),
        Architecture(D2_R101, detectron2_mask_rcnn_R_101_FPN,
                     "detectron2 mask_rcnn_R_101_FPN_3x: its .pkl/.pth load, its conventions as options"),
        Architecture(D2_KEYPOINT_R50, detectron2_keypoint_rcnn_R_50_FPN,
                     "detectron2 keypoint_rcnn_R_50_FPN_{1x,3x}: its .pkl/.pth load, its conventions as options",
                     heads=("keypoint",)),
    )
}


def build_model(arch: str, *, num_classes: int, **kwargs) -> MaskRCNN | KeypointRCNN:
    """Build an architecture by name with random weights; kwargs are MaskRCNN's test-time settings."""
    from ..errors import UserError

    if arch not in ARCHITECTURES:
        raise UserError(f"unknown architecture '{arch}': choose one of {', '.join(ARCHITECTURES)}")
    if ARCHITECTURES[arch].build in (maskrcnn_resnet50_fpn, maskrcnn_resnet50_fpn_v2, keypointrcnn_resnet50_fpn):
        kwargs.update(weights=None, weights_backbone=None)
    model = ARCHITECTURES[arch].build(num_classes=num_classes, **kwargs)
    return model.eval()
