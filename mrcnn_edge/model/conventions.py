"""Test-time conventions: where a Mask R-CNN family departs from torchvision's forward, as named options.

The detectron2 architectures are torchvision's modules with these options set (`DETECTRON2`); the deploy
forward (`export/deploy.py`), the ONNX regions and the runtime's mask paste and keypoint decode read them.
A model without a `conventions` attribute is torchvision's (`TORCHVISION`). Each value below cites the code
it follows.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Conventions:
    name: str
    # backbone: detectron2's MSRA ResNets stride in the block's 1x1 conv, torchvision's (v1.5) in the 3x3
    stride_in_1x1: bool = False
    # input: the contract's images are RGB uint8; None mean/std means the transform's own (0..1 scale)
    channel_order: str = "RGB"
    pixel_mean: tuple[float, float, float] | None = None  # 0..255 units, in channel_order
    pixel_std: tuple[float, float, float] | None = None
    # anchors: torchvision rounds the cell anchors and infers each level's stride from the map size
    round_cell_anchors: bool = True
    anchor_offset: float = 0.0
    anchor_strides: tuple[int, ...] | None = None  # None: image size // map size, as torchvision
    # RPN and box head: boxes with a side below these are removed (torchvision: side >= 1e-3 and >= 1e-2)
    proposal_min_side: float = 1e-3
    detection_min_side: float | None = 1e-2  # None: detections are never removed for size
    min_side_exclusive: bool = False  # True: a side must exceed the minimum (detectron2's Boxes.nonempty)
    # poolers: RoIAlign's half-pixel shift (detectron2's ROIAlignV2) and samples per bin (0: adaptive)
    roi_aligned: bool = False
    roi_sampling_ratio: int = 2
    # how the runtime pastes the 28x28 masks into the frame: "torchvision" or "detectron2"
    paste: str = "torchvision"
    # how the runtime decodes keypoint heatmaps (runtime/keypoints.DECODES): both take the same peak of the
    # bicubic-upsampled map; they score it differently (torchvision: its logit, detectron2: a softmax)
    keypoint_decode: str = "torchvision"


TORCHVISION = Conventions("torchvision")

# detectron2 @ 02b5c4e (configs/Base-RCNN-FPN.yaml, config/defaults.py), read from its source:
DETECTRON2 = Conventions(
    "detectron2",
    stride_in_1x1=True,  # RESNETS.STRIDE_IN_1X1 (MSRA weights)
    channel_order="BGR", pixel_mean=(103.530, 116.280, 123.675), pixel_std=(1.0, 1.0, 1.0),  # INPUT.FORMAT
    round_cell_anchors=False, anchor_offset=0.0, anchor_strides=(4, 8, 16, 32, 64),  # DefaultAnchorGenerator
    proposal_min_side=0.0, detection_min_side=None, min_side_exclusive=True,  # PROPOSAL_GENERATOR.MIN_SIZE 0
    roi_aligned=True, roi_sampling_ratio=0,  # POOLER_TYPE ROIAlignV2, POOLER_SAMPLING_RATIO 0
    paste="detectron2",  # layers/mask_ops.py paste_masks_in_image (grid_sample, >= threshold)
    keypoint_decode="detectron2",  # structures/keypoints.py heatmaps_to_keypoints, its score column
)
# Not an option: the FPN level of a RoI. detectron2 computes floor(4 + log2(sqrt(area) / 224 + 1e-8)),
# torchvision's LevelMapper floor(4 + log2(sqrt(area) / 224) + 1e-6), which our RoIAlign plugin and its
# ONNX body implement. They differ only for boxes within ~1e-6 (relative) of 224 * 2**k.
# Not options either, because both agree (checked in detectron2's source): box decoding (Box2BoxTransform
# weights 10,10,5,5 for the box head and 1,1,1,1 for the RPN, scale clamp log(1000/16), no +1), clipping
# to the image, per-level pre-NMS top-k, NMS by level in the RPN and by class in the box head, and
# picking each detection's own class channel of the mask logits. For Keypoint R-CNN
# (configs/COCO-Keypoints/Base-Keypoint-RCNN-FPN.yaml, modeling/roi_heads/keypoint_head.py): the keypoint
# pooler (14, ROIAlignV2, adaptive sampling: the options above), 8 convs of 512 with ReLU, ConvTranspose
# 4x4 stride 2 padding 1 and a bilinear 2x upsample (align_corners False) to 56x56, the head run on every
# detection, and the keypoint's place: the argmax of the heatmap upsampled bicubically to ceil(w) x ceil(h),
# (d + 0.5) * w / ceil(w) + x0.


def conventions_of(model) -> Conventions:
    return getattr(model, "conventions", TORCHVISION)
