"""A training frame and its objects -> the model's input: letterboxed as deploy letterboxes, with augmentation.

The frame is placed exactly as `mrcnn_edge.letterbox` places it at deploy (cv2 bilinear, top-left, zero pad
bottom/right), so the model trains on what the exported graph sees; augmentation only shrinks it further
inside the same input (scale jitter), mirrors it and jitters its colours (on the frame only: the padding
stays zero, as at deploy). Masks and boxes follow through torchvision.transforms.v2 (masks by nearest-exact,
whose half-pixel sampling grid is cv2's bilinear one, so a mask stays on its pixels).

Boxes are x1, y1, x2, y2 with x2, y2 exclusive (a mask's box spans its last pixel: `synthetic.masks_to_boxes`
and COCO's bbox), so a box is mirrored as x -> W - x. Keypoints are continuous coordinates in that same frame
and mirror the same way; v2's KeyPoints mirror as x -> W - 1 - x (pixel indices), one pixel off the boxes, so
they are mirrored here, and left and right joints swap through the layout's flip map.

Randomness comes from torch's generator only: seeded by the caller, a draw depends on nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.ops import masks_to_boxes
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from ..letterbox import letterbox


@dataclass(frozen=True)
class Augmentation:
    flip: float = 0.5  # chance of a left-right mirror
    scale: tuple[float, float] = (0.6, 1.0)  # of the letterbox scale: objects shrink, the input stays
    brightness: float = 0.3  # ColorJitter's, on the frame only
    contrast: float = 0.3
    saturation: float = 0.3
    hue: float = 0.03


@dataclass
class Instances:
    """The objects of one frame, in its pixels."""
    labels: torch.Tensor  # [N] int64
    boxes: tv_tensors.BoundingBoxes  # [N,4] XYXY, x2 y2 exclusive
    masks: tv_tensors.Mask | None = None  # [N,h,w] uint8 0/1
    keypoints: torch.Tensor | None = None  # [N,K,3] x, y, visibility 0/1/2


@dataclass(frozen=True)
class Draw:
    flip: bool
    scale: float  # against the letterbox scale


def draw(augmentation: Augmentation) -> Draw:
    """One random draw from torch's generator (seed it first)."""
    flip = bool(torch.rand(()) < augmentation.flip)
    low, high = augmentation.scale
    return Draw(flip, float(torch.empty(()).uniform_(low, high)))


def content_size(frame_size: tuple[int, int], size: tuple[int, int], scale: float = 1.0) -> tuple[int, int]:
    """(h, w) of the frame inside the input: the letterbox's own rounding, in an input shrunk by `scale`."""
    h, w = frame_size
    H, W = round(size[0] * scale), round(size[1] * scale)
    s = min(H / h, W / w)
    return min(H, round(h * s)), min(W, round(w * s))


def place(frame: np.ndarray, instances: Instances, size: tuple[int, int], d: Draw = Draw(False, 1.0),
          flip_indices: list[int] | None = None) -> tuple[torch.Tensor, Instances, tuple[int, int]]:
    """Mirror (as drawn) and letterbox frame and objects into `size` (H, W).

    Returns the image uint8 [3,H,W], the objects in its pixels and the frame's (h, w) inside it. At scale 1
    the image is `letterbox(frame, size)`'s, bit for bit; smaller, the frame is letterboxed into the input
    shrunk by the scale and padded on to `size`.
    """
    if d.flip:
        frame = np.ascontiguousarray(frame[:, ::-1])
        instances = mirror(instances, frame.shape[1], flip_indices)
    H, W = size
    inner = (round(H * d.scale), round(W * d.scale)) if d.scale != 1.0 else size
    placed, _ = letterbox(frame, inner)
    image = torch.zeros((3, H, W), dtype=torch.uint8)
    image[:, : inner[0], : inner[1]] = torch.from_numpy(placed[0])
    content = content_size(frame.shape[:2], size, d.scale)
    return image, resize_instances(instances, frame.shape[:2], content, size), content


def mirror(instances: Instances, width: int, flip_indices: list[int] | None) -> Instances:
    """Left-right mirror of a frame's objects `width` pixels wide (masks and boxes through v2)."""
    keypoints = instances.keypoints
    if keypoints is not None:
        keypoints = keypoints.clone()
        keypoints[..., 0] = width - keypoints[..., 0]
        if flip_indices is not None:
            keypoints = keypoints[:, flip_indices]  # the left hand, mirrored, is where the right one was
    return replace(instances, boxes=F.horizontal_flip(instances.boxes),
                   masks=None if instances.masks is None else F.horizontal_flip(instances.masks), keypoints=keypoints)


def resize_instances(instances: Instances, frame_size: tuple[int, int], content: tuple[int, int],
                     size: tuple[int, int]) -> Instances:
    """Objects of a frame resized to `content` (h, w) and padded bottom/right to `size`, through v2."""
    padding = [0, 0, size[1] - content[1], size[0] - content[0]]  # left, top, right, bottom
    boxes = F.pad(F.resize(instances.boxes, list(content)), padding)
    masks = instances.masks
    if masks is not None:
        masks = (tv_tensors.Mask(torch.zeros((0, *size), dtype=torch.uint8)) if not len(masks) else
                 F.pad(F.resize(masks, list(content), interpolation=v2.InterpolationMode.NEAREST_EXACT), padding))
    keypoints = instances.keypoints
    if keypoints is not None:
        ratio = torch.tensor([content[1] / frame_size[1], content[0] / frame_size[0]])
        keypoints = torch.cat([keypoints[..., :2] * ratio, keypoints[..., 2:]], -1)
    return replace(instances, boxes=boxes, masks=masks, keypoints=keypoints)


def photometric(image: torch.Tensor, content: tuple[int, int], augmentation: Augmentation) -> torch.Tensor:
    """ColorJitter on the frame's pixels of a letterboxed uint8 image; the zero padding is left as deploy pads."""
    jitter = v2.ColorJitter(augmentation.brightness, augmentation.contrast, augmentation.saturation, augmentation.hue)
    h, w = content
    image = image.clone()
    image[:, :h, :w] = jitter(tv_tensors.Image(image[:, :h, :w]))
    return image


def settle(instances: Instances) -> Instances:
    """The objects as targets: with masks, each box is its mask's (the mask is the truth) and an object whose
    mask emptied is dropped; without, an object whose box collapsed is dropped. Unlabelled keypoints
    (visibility 0) are zeroed, as COCO writes them."""
    if instances.masks is not None:
        keep = instances.masks.flatten(1).any(1).bool()  # uint8 masks give a uint8 `any`
        masks = instances.masks[keep]
        boxes = masks_to_boxes(masks) + torch.tensor([0.0, 0.0, 1.0, 1.0])  # torchvision's x2 is the last pixel
    else:
        b = instances.boxes
        keep = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
        masks, boxes = None, b[keep]
    keypoints = instances.keypoints
    if keypoints is not None:
        keypoints = keypoints[keep].clone()
        keypoints[keypoints[..., 2] == 0] = 0.0
    return Instances(instances.labels[keep], boxes.as_subclass(torch.Tensor).float(),
                     None if masks is None else masks.as_subclass(torch.Tensor), keypoints)


def augment(frame: np.ndarray, instances: Instances, size: tuple[int, int], augmentation: Augmentation | None,
            flip_indices: list[int] | None = None) -> tuple[torch.Tensor, Instances]:
    """Frame [h,w,3] uint8 RGB and its objects -> image float32 [3,H,W] in 0..1 and the settled objects.
    augmentation None: the letterbox alone (validation, and `augment=False`)."""
    d = draw(augmentation) if augmentation is not None else Draw(False, 1.0)
    image, instances, content = place(frame, instances, size, d, flip_indices)
    if augmentation is not None:
        image = photometric(image, content, augmentation)
    return image.float() / 255, settle(instances)
