"""torchvision's eager Mask R-CNN as a predictor: the oracle every exported artifact is compared with."""
from __future__ import annotations

import numpy as np
import torch
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import paste_masks_in_image
from torchvision.ops import clip_boxes_to_image

from typing import NamedTuple

from ..letterbox import letterbox


class Prediction(NamedTuple):
    """One frame's detections in its pixels, as torchvision names them; a head the model lacks is None."""
    boxes: np.ndarray  # [N,4] x1,y1,x2,y2
    scores: np.ndarray  # [N]
    classes: np.ndarray  # [N] 1-based
    masks: np.ndarray | None = None  # [N,H,W] bool
    keypoints: np.ndarray | None = None  # [N,J,3] x, y, v = 1
    keypoint_scores: np.ndarray | None = None  # [N,J]


class EagerPredictor:
    """frame (RGB uint8 [H,W,3]) -> Prediction (boxes, scores, classes, masks bool [N,H,W], keypoints) with
    torchvision's own code.

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
        masks = out["masks"][:, 0] > self.mask_threshold if "masks" in out else None
        return self._prediction(out, out["boxes"], masks)

    def _letterboxed(self, frame_rgb: np.ndarray):
        canvas, placed = letterbox(frame_rgb, self.input_size)
        device = next(self.model.parameters()).device  # a model in training may sit on a GPU
        x = self.model.transform.normalize(torch.from_numpy(canvas[0]).to(device).float() / 255)[None]
        images = ImageList(x, [self.input_size])
        features = self.model.backbone(images.tensors)
        proposals, _ = self.model.rpn(images, features)
        out = {k: v.cpu() for k, v in self.model.roi_heads(features, proposals, images.image_sizes)[0][0].items()}
        frame_size = (placed.frame_height, placed.frame_width)
        boxes = clip_boxes_to_image(out["boxes"] / placed.scale, frame_size)
        masks = None
        if "masks" in out:
            masks = paste_masks_in_image(out["masks"], boxes, frame_size)[:, 0] > self.mask_threshold
        if "keypoints" in out:  # torchvision's resize_keypoints: x and y scaled from the canvas to the frame
            out["keypoints"] = torch.cat([out["keypoints"][..., :2] / placed.scale, out["keypoints"][..., 2:]], -1)
        return self._prediction(out, boxes, masks)

    @staticmethod
    def _prediction(out: dict, boxes, masks) -> Prediction:
        keypoints = out.get("keypoints")
        return Prediction(boxes.numpy(), out["scores"].numpy(), out["labels"].numpy(),
                          None if masks is None else masks.numpy(),
                          None if keypoints is None else keypoints.numpy(),
                          None if keypoints is None else out["keypoints_scores"].numpy())
