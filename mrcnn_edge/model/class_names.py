"""Class names: given by the user (`export --classes`), else COCO's for a COCO-layout model, else numbered.

COCO's names come from torchvision's own weights metadata (installed, offline). Its 91-slot layout keeps
the ids of the original paper, so 10 slots are `N/A`: kept, so ids stay COCO's, and never drawn.
"""
from __future__ import annotations

import os

from ..errors import UserError

UNUSED = "N/A"  # a slot of the COCO layout that no category uses
COCO_LAYOUT_CLASSES = 91  # background + 90 slots, as torchvision's COCO models


def coco_class_names() -> list[str]:
    """COCO's 90 category slots (background excluded), as torchvision's metadata names them."""
    from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights

    return list(MaskRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"][1:])


def default_class_names(num_classes: int) -> tuple[list[str], str]:
    """(names of classes 1..num_classes-1, where they came from; '' for plain numbers)."""
    if num_classes == COCO_LAYOUT_CLASSES:
        return coco_class_names(), "COCO's, from torchvision's metadata (a 91-class torchvision layout)"
    return [f"class_{i}" for i in range(1, num_classes)], ""


def parse_classes(spec: str | None) -> list[str] | None:
    """`--classes`: a file with one name a line, or names separated by commas."""
    if not spec:
        return None
    if os.path.isfile(spec):
        with open(spec, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
    elif "," in spec or not os.path.splitext(spec)[1]:
        names = [n.strip() for n in spec.split(",") if n.strip()]
    else:
        raise UserError(f"class names file not found: {spec} (pass a file with one name a line, or a,b,c)")
    if not names:
        raise UserError(f"--classes {spec!r} names no class: pass a file with one name a line, or a,b,c")
    return names
