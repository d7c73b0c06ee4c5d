"""torchvision's eager Mask R-CNN as a predictor: the oracle every exported artifact is compared with."""
from __future__ import annotations

import numpy as np
import torch
from torchvision.models.detection import MaskRCNN


class EagerPredictor:
    """frame (RGB uint8 [H,W,3]) -> (boxes, scores, classes, masks bool [N,H,W]) with torchvision's own code."""

    def __init__(self, model: MaskRCNN, mask_threshold: float = 0.5):
        self.model = model.eval()
        self.mask_threshold = mask_threshold

    @torch.inference_mode()
    def __call__(self, frame_rgb: np.ndarray):
        image = torch.from_numpy(np.ascontiguousarray(frame_rgb)).permute(2, 0, 1).float() / 255
        out = self.model([image])[0]
        masks = out["masks"][:, 0] > self.mask_threshold
        return out["boxes"].numpy(), out["scores"].numpy(), out["labels"].numpy(), masks.numpy()
