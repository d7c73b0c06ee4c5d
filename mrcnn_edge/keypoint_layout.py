"""What a keypoint model's K outputs mean: joint names, the limbs that join them, and OKS sigmas.

One layout travels with a keypoint model from its checkpoint to the sidecar of every graph made from
it, so the runtime draws the right skeleton and `eval` scores with the right sigmas. Bottom layer:
no torch at import (torchvision's names are read when the COCO layout is first asked for).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .errors import UserError

# COCO's person skeleton (the `skeleton` field of person_keypoints_*.json), by joint name: torchvision's
# metadata names the joints but carries no skeleton.
_COCO_LIMBS = (
    ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("right_ankle", "right_knee"),
    ("right_knee", "right_hip"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"), ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"),
    ("right_shoulder", "right_elbow"), ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
    ("left_eye", "right_eye"), ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"),
    ("right_eye", "right_ear"), ("left_ear", "left_shoulder"), ("right_ear", "right_shoulder"),
)


@dataclass(frozen=True)
class KeypointLayout:
    names: tuple[str, ...]
    limbs: tuple[tuple[str, str], ...]  # joined joints, by name
    sigmas: tuple[float, ...] | None = None  # OKS sigmas per joint; None: COCO's (pycocotools' own)

    def __post_init__(self):
        unknown = sorted({j for limb in self.limbs for j in limb} - set(self.names))
        if unknown:
            raise UserError(f"keypoint skeleton names joints that are not keypoints: {', '.join(unknown)}")
        if self.sigmas is not None and len(self.sigmas) != len(self.names):
            raise UserError(f"{len(self.sigmas)} OKS sigmas for {len(self.names)} keypoints: give one per keypoint")

    @property
    def num_keypoints(self) -> int:
        return len(self.names)

    def limb_indices(self) -> list[tuple[int, int]]:
        """The limbs as 0-based keypoint indices."""
        index = {n: i for i, n in enumerate(self.names)}
        return [(index[a], index[b]) for a, b in self.limbs]

    def flip_indices(self) -> list[int]:
        """Where each joint goes when the image is mirrored left-right: i -> the index of its mirror joint.

        Joints pair by name (left_X/right_X, l_X/r_X, X_left/X_right, X_l/X_r, any case), as COCO's and
        detectron2's flip maps do; a joint without a mirror (nose, neck) maps to itself.
        """
        index = {n.lower(): i for i, n in enumerate(self.names)}
        return [index.get(_mirror_name(n.lower()), i) for i, n in enumerate(self.names)]

    def coco_skeleton(self) -> list[list[int]]:
        """The limbs as COCO's categories[].skeleton: 1-based keypoint indices."""
        return [[a + 1, b + 1] for a, b in self.limb_indices()]

    def to_json(self) -> dict:
        return {"names": list(self.names), "limbs": [list(l) for l in self.limbs],
                "sigmas": None if self.sigmas is None else list(self.sigmas)}

    @classmethod
    def from_json(cls, info: dict) -> "KeypointLayout":
        sigmas = info.get("sigmas")
        return cls(tuple(info["names"]), tuple(tuple(l) for l in info["limbs"]),
                   None if sigmas is None else tuple(float(s) for s in sigmas))


_SIDES = (("left_", "right_"), ("l_", "r_"))


def _mirror_name(name: str) -> str | None:
    """left_hand -> right_hand, hand_l -> hand_r; None for a name that names no side."""
    for a, b in _SIDES:
        for this, other in ((a, b), (b, a)):
            if name.startswith(this):
                return other + name[len(this):]
            suffix, mirrored = "_" + this[:-1], "_" + other[:-1]
            if name.endswith(suffix):
                return name[: -len(suffix)] + mirrored
    return None


@lru_cache(maxsize=None)
def coco_person() -> KeypointLayout:
    """COCO's 17 person keypoints, named as torchvision's Keypoint R-CNN metadata names them."""
    from torchvision.models._meta import _COCO_PERSON_KEYPOINT_NAMES

    return KeypointLayout(tuple(_COCO_PERSON_KEYPOINT_NAMES), _COCO_LIMBS)


def default_layout(num_keypoints: int) -> KeypointLayout:
    """The layout of a checkpoint that names none: COCO's for 17 keypoints, numbered joints otherwise."""
    if num_keypoints == 17:
        return coco_person()
    return KeypointLayout(tuple(f"keypoint_{i}" for i in range(num_keypoints)), ())
