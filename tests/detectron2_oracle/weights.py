"""Seeded detectron2 Mask R-CNN and Keypoint R-CNN weights in detectron2's own key layout, made without detectron2.

`make_weights(depth, head)` walks a table of detectron2's key names and shapes (`key_table`) with one numpy RNG,
so CI rebuilds the exact file the detectron2 reference (`make_reference.py`) was computed from.

Random weights need care to make a meaningful oracle:
- FrozenBN statistics: with unit statistics, 50-100 layers of random convs make features explode or
  vanish and the RPN proposes nothing. Each FrozenBN's mean and variance is set once from its own input
  on a real photo, in layer order (forward pre-hooks on our torchvision assembly of the same keys, whose
  conventions are detectron2's), computed in float64 and rounded to 3 significant digits, so that the CPU
  and thread count cannot change the file (in float32 their last-bit differences flipped a third of the
  rounded statistics, each flip changing every layer after it).
- The mask predictor is drawn with std 0.05: detectron2's init (0.001) puts nearly every mask
  probability at 0.5, the paste threshold; 0.05 spreads them without saturating.
- The classifier is drawn wide enough that the 4 classes' scores are untied.
- The keypoint predictor (score_lowres) is drawn for heatmap logits of std ~3: peaked enough that each
  map's argmax is clear of its runner-up, and detectron2's softmax scores spread over ~0.01..0.6 (at
  unit gain they all sit near 1 / 56^2, where a 1e-3 tolerance would test nothing).
"""
from __future__ import annotations

import hashlib
import pickle

import numpy as np

SEED = 20261201
NUM_CLASSES = 4  # foreground classes, detectron2's ROI_HEADS.NUM_CLASSES
KEYPOINT_CLASSES, NUM_KEYPOINTS = 1, 17  # the keypoint model's: person, COCO's keypoints (its configs')
STAGE_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
STAGE_WIDTHS = (64, 128, 256, 512)  # bottleneck widths of res2..res5; outputs are 4x
NORM = ("weight", "bias", "running_mean", "running_var")
# digest() of make_weights(depth, head=head): the files reference.npz and reference_keypoints.npz were made
# from. A CPU, thread count or library that makes other weights fails test_weights.py..
DIGESTS = {(50, "mask"): "f04c41b5e4cde832909bb45d9b1e4cd155585d95dfa93796d5529ae6e89dbb38",
           (101, "mask"): "aa8876053e584748c9a95a47a9444a716f6ede20ba6ccffef4b4d64135666ebb",
           (50, "keypoint"): "f901b9f38f8679463356bd21d1f2070a3f45dfa26f4fa4fd38ad8de899c0c395"}


def key_table(depth: int, head: str = "mask") -> list[tuple[str, tuple[int, ...]]]:
    """(detectron2 key, shape) of mask_rcnn_R_{depth}_FPN with NUM_CLASSES (head "mask") or
    keypoint_rcnn_R_{depth}_FPN with KEYPOINT_CLASSES and NUM_KEYPOINTS ("keypoint"), in detectron2's
    module order."""
    classes = NUM_CLASSES if head == "mask" else KEYPOINT_CLASSES
    t = [("backbone.bottom_up.stem.conv1.weight", (64, 3, 7, 7))]
    t += [(f"backbone.bottom_up.stem.conv1.norm.{n}", (64,)) for n in NORM]
    in_ch = 64
    for stage, (blocks, width) in enumerate(zip(STAGE_BLOCKS[depth], STAGE_WIDTHS), start=2):
        out_ch = width * 4
        for b in range(blocks):
            p = f"backbone.bottom_up.res{stage}.{b}"
            if b == 0:
                t += [(f"{p}.shortcut.weight", (out_ch, in_ch, 1, 1))]
                t += [(f"{p}.shortcut.norm.{n}", (out_ch,)) for n in NORM]
            for c, shape in ((1, (width, in_ch if b == 0 else out_ch, 1, 1)), (2, (width, width, 3, 3)),
                             (3, (out_ch, width, 1, 1))):
                t += [(f"{p}.conv{c}.weight", shape)] + [(f"{p}.conv{c}.norm.{n}", (shape[0],)) for n in NORM]
        in_ch = out_ch
    for level, ch in zip((2, 3, 4, 5), (256, 512, 1024, 2048)):
        t += [(f"backbone.fpn_lateral{level}.weight", (256, ch, 1, 1)), (f"backbone.fpn_lateral{level}.bias", (256,)),
              (f"backbone.fpn_output{level}.weight", (256, 256, 3, 3)), (f"backbone.fpn_output{level}.bias", (256,))]
    r = "proposal_generator.rpn_head"
    t += [(f"{r}.conv.weight", (256, 256, 3, 3)), (f"{r}.conv.bias", (256,)),
          (f"{r}.objectness_logits.weight", (3, 256, 1, 1)), (f"{r}.objectness_logits.bias", (3,)),
          (f"{r}.anchor_deltas.weight", (12, 256, 1, 1)), (f"{r}.anchor_deltas.bias", (12,))]
    t += [("roi_heads.box_head.fc1.weight", (1024, 256 * 7 * 7)), ("roi_heads.box_head.fc1.bias", (1024,)),
          ("roi_heads.box_head.fc2.weight", (1024, 1024)), ("roi_heads.box_head.fc2.bias", (1024,)),
          ("roi_heads.box_predictor.cls_score.weight", (classes + 1, 1024)),
          ("roi_heads.box_predictor.cls_score.bias", (classes + 1,)),
          ("roi_heads.box_predictor.bbox_pred.weight", (classes * 4, 1024)),
          ("roi_heads.box_predictor.bbox_pred.bias", (classes * 4,))]
    return t + (_mask_head_table() if head == "mask" else _keypoint_head_table())


def _mask_head_table() -> list[tuple[str, tuple[int, ...]]]:
    t = []
    for i in range(1, 5):
        t += [(f"roi_heads.mask_head.mask_fcn{i}.weight", (256, 256, 3, 3)), (f"roi_heads.mask_head.mask_fcn{i}.bias", (256,))]
    t += [("roi_heads.mask_head.deconv.weight", (256, 256, 2, 2)), ("roi_heads.mask_head.deconv.bias", (256,)),
          ("roi_heads.mask_head.predictor.weight", (NUM_CLASSES, 256, 1, 1)),
          ("roi_heads.mask_head.predictor.bias", (NUM_CLASSES,))]
    return t


def _keypoint_head_table() -> list[tuple[str, tuple[int, ...]]]:
    """KRCNNConvDeconvUpsampleHead: conv_fcn1..8 (3x3, 512), score_lowres (ConvTranspose2d [in, K, 4, 4])."""
    t = []
    for i, in_ch in enumerate([256] + [512] * 7, start=1):
        t += [(f"roi_heads.keypoint_head.conv_fcn{i}.weight", (512, in_ch, 3, 3)),
              (f"roi_heads.keypoint_head.conv_fcn{i}.bias", (512,))]
    return t + [("roi_heads.keypoint_head.score_lowres.weight", (512, NUM_KEYPOINTS, 4, 4)),
                ("roi_heads.keypoint_head.score_lowres.bias", (NUM_KEYPOINTS,))]


def _std(key: str, shape) -> float:
    """Init scale per key: He for ReLU convs and FCs, unit gain for linear outputs, the special cases."""
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    if "mask_head.predictor" in key:
        return 0.05
    if "score_lowres" in key:  # a stride-2 4x4 transposed conv: each output sums 2x2 taps of all inputs;
        return 8.0 / np.sqrt(shape[0] * 4)  # unit gain gives logits of std 0.36 and scores all ~1e-3
    # the residual sums leave res2..res5 at std ~2..4 on the photo: the FPN keeps that at ~2, and the
    # linear outputs are scaled for logits of std ~1 and box deltas of ~0.1
    if "fpn_" in key:
        return 0.3 / np.sqrt(fan_in)
    if "anchor_deltas" in key or "bbox_pred" in key:
        return 0.05 / np.sqrt(fan_in)
    if "objectness_logits" in key:
        return 1.0 / np.sqrt(fan_in)
    if "cls_score" in key:
        return 0.5 / np.sqrt(fan_in)
    if "deconv" in key:
        return np.sqrt(2.0 / (shape[0] * 4))
    return np.sqrt(2.0 / fan_in)


def draw(depth: int, seed: int = SEED, head: str = "mask") -> dict[str, np.ndarray]:
    """Every weight of the table, FrozenBN statistics still at unit (set by `make_weights`)."""
    rng = np.random.default_rng(seed + depth)
    state = {}
    for key, shape in key_table(depth, head):
        leaf = key.rsplit(".", 1)[1]
        if key.endswith("conv3.norm.weight"):  # each residual branch adds ~1/blocks of variance
            blocks = STAGE_BLOCKS[depth][int(key.split(".res")[1][0]) - 2]
            v = rng.uniform(0.5, 1.0, shape) / np.sqrt(blocks)
        elif key.endswith("norm.weight"):
            v = rng.uniform(0.5, 1.0, shape)
        elif key.endswith("norm.bias"):
            v = rng.normal(0.0, 0.2, shape)
        elif leaf == "running_mean":
            v = np.zeros(shape)
        elif leaf == "running_var":
            v = np.ones(shape)
        elif leaf == "bias":
            v = rng.normal(0.0, 0.1, shape)
        else:
            v = rng.normal(0.0, _std(key, shape), shape)
        state[key] = v.astype(np.float32)
    return state


def photo_for_statistics() -> np.ndarray:
    """RGB uint8: scikit-image's cat (chelsea), not one of the reference frames."""
    from skimage import data

    return data.chelsea()


def set_frozen_bn_statistics(state: dict[str, np.ndarray], photo_rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Each FrozenBN's running mean/var := its input's per-channel mean/var on photo_rgb, in layer order."""
    import torch
    from torchvision.ops.misc import FrozenBatchNorm2d

    from mrcnn_edge.model.architectures import build_model
    from mrcnn_edge.model.detectron2_checkpoint import _rename, infer_detectron2_arch, num_classes_of, to_torchvision

    model = build_model(infer_detectron2_arch(state), num_classes=num_classes_of(state))
    model.load_state_dict(to_torchvision(state, "<generated>"))
    model.double()  # see the module docstring: float32 statistics differ with the CPU
    ours_to_d2 = {_rename(k): k for k in state}
    names = {m: n for n, m in model.backbone.body.named_modules()}

    def set_statistics(module, inputs):
        x = inputs[0]
        prefix = f"backbone.body.{names[module]}"
        for stat, value in (("running_mean", x.mean((0, 2, 3))), ("running_var", x.var((0, 2, 3)))):
            rounded = np.array([float(f"{v:.3g}") for v in value.tolist()], np.float32)
            getattr(module, stat).copy_(torch.from_numpy(rounded.astype(np.float64)))
            state[ours_to_d2[f"{prefix}.{stat}"]] = rounded

    hooks = [m.register_forward_pre_hook(set_statistics) for m in names if isinstance(m, FrozenBatchNorm2d)]
    image = torch.from_numpy(photo_rgb[:, :, ::-1].copy()).permute(2, 0, 1).double()[None]  # BGR, 0..255
    mean = torch.tensor([103.530, 116.280, 123.675], dtype=torch.float64).view(1, 3, 1, 1)
    with torch.no_grad():
        model.backbone.body(image - mean)
    for h in hooks:
        h.remove()
    return state


def make_weights(depth: int, seed: int = SEED, head: str = "mask") -> dict[str, np.ndarray]:
    return set_frozen_bn_statistics(draw(depth, seed, head), photo_for_statistics())


def digest(state: dict[str, np.ndarray]) -> str:
    """sha256 over the keys, in order, and their float32 bytes."""
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(np.ascontiguousarray(state[key], np.float32).tobytes())
    return h.hexdigest()


def write_pkl(path: str, state: dict[str, np.ndarray]) -> str:
    """As detectron2's model zoo ships them."""
    with open(path, "wb") as f:
        pickle.dump({"model": state, "__author__": "mrcnn-edge tests", "matching_heuristics": False}, f)
    return path


def write_pth(path: str, state: dict[str, np.ndarray]) -> str:
    """As detectron2's training loop saves them (DetectionCheckpointer: model, optimizer, scheduler, iteration)."""
    import torch

    torch.save({"model": {k: torch.from_numpy(v) for k, v in state.items()}, "optimizer": {"state": {}},
                "scheduler": {"last_epoch": 0}, "iteration": 0}, path)
    return path
