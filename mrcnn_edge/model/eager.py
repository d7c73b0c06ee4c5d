"""torchvision's eager Mask R-CNN as a predictor: the oracle every exported artifact is compared with."""
from __future__ import annotations

import numpy as np
import torch
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import paste_masks_in_image
from torchvision.ops import clip_boxes_to_image

from ..letterbox import letterbox


class EagerPredictor:
    """frame (RGB uint8 [H,W,3]) -> (boxes, scores, classes, masks bool [N,H,W]) with torchvision's own code.

    input_size None runs torchvision's whole forward (its own resize). With an input size (H, W) the
    frame is letterboxed as the runtime does for a deployed model, and torchvision's modules run on
    that same canvas (normalise, backbone, RPN, RoI heads; boxes mapped back and masks pasted by
    torchvision's paste_masks_in_image): the reference for artifacts on frames of any size.
    """

    def __init__(self, model: MaskRCNN, mask_threshold: float = 0.5, input_size: tuple[int, int] | None = None):
        self.model = model.eval()
        self.mask_threshold = mask_threshold
        self.input_size = tuple(input_size) if input_size else None

    @torch.inference_mode()
    def __call__(self, frame_rgb: np.ndarray):
        if self.input_size is not None:
            return self._letterboxed(frame_rgb)
        image = torch.from_numpy(np.ascontiguousarray(frame_rgb)).permute(2, 0, 1).float() / 255
        out = self.model([image])[0]
        masks = out["masks"][:, 0] > self.mask_threshold
        return out["boxes"].numpy(), out["scores"].numpy(), out["labels"].numpy(), masks.numpy()

    def _letterboxed(self, frame_rgb: np.ndarray):
        canvas, placed = letterbox(frame_rgb, self.input_size)
        x = self.model.transform.normalize(torch.from_numpy(canvas[0]).float() / 255)[None]
        images = ImageList(x, [self.input_size])
        features = self.model.backbone(images.tensors)
        proposals, _ = self.model.rpn(images, features)
        out = self.model.roi_heads(features, proposals, images.image_sizes)[0][0]
        frame_size = (placed.frame_height, placed.frame_width)
        boxes = clip_boxes_to_image(out["boxes"] / placed.scale, frame_size)
        masks = paste_masks_in_image(out["masks"], boxes, frame_size)[:, 0] > self.mask_threshold
        return boxes.numpy(), out["scores"].numpy(), out["labels"].numpy(), masks.numpy()
