"""Reading detectron2 files without detectron2: model-zoo .pkl, training-output .pth, refusals."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from mrcnn_edge.errors import UserError
from mrcnn_edge.model.checkpoint import load_model, read_checkpoint

from .weights import key_table, write_pth


def test_pkl_and_pth_load_the_same_weights(detectron2_pkl, detectron2_state, tmp_path):
    """R-50 inferred from res4's 6 blocks, 5 classes from the classifier; .pkl and .pth agree exactly."""
    from_pkl = read_checkpoint(detectron2_pkl(50))
    from_pth = read_checkpoint(write_pth(str(tmp_path / "model_final.pth"), detectron2_state(50)))
    assert (from_pkl.arch, from_pkl.num_classes) == ("detectron2_mask_rcnn_R_50_FPN", 5)
    assert from_pth.arch == from_pkl.arch and from_pth.state_dict.keys() == from_pkl.state_dict.keys()
    assert all(torch.equal(from_pth.state_dict[k], v) for k, v in from_pkl.state_dict.items())


def test_background_moves_from_last_to_first(detectron2_pkl, detectron2_state):
    """detectron2's background is the last classifier row; torchvision's the first. Box regression has no
    background row in detectron2 (class-specific, K*4) and mask logits K channels: both get a zero one."""
    d2 = detectron2_state(50)
    model, ckpt = load_model(detectron2_pkl(50))
    heads = model.roi_heads
    w = d2["roi_heads.box_predictor.cls_score.weight"]
    assert np.array_equal(heads.box_predictor.cls_score.weight[0].detach().numpy(), w[-1])
    assert np.array_equal(heads.box_predictor.cls_score.weight[1:].detach().numpy(), w[:-1])
    reg = heads.box_predictor.bbox_pred.weight.detach().numpy()
    assert reg.shape[0] == 4 * 5 and not reg[:4].any()
    assert np.array_equal(reg[4:], d2["roi_heads.box_predictor.bbox_pred.weight"])
    logits = heads.mask_predictor.mask_fcn_logits.weight.detach().numpy()
    assert not logits[0].any() and np.array_equal(logits[1:], d2["roi_heads.mask_head.predictor.weight"])


def test_r101_is_told_by_res4(detectron2_pkl):
    assert read_checkpoint(detectron2_pkl(101)).arch == "detectron2_mask_rcnn_R_101_FPN"


def test_every_key_has_a_module():
    """The renaming covers every key of detectron2's layout, and the models have no other weights."""
    from mrcnn_edge.model.architectures import build_model
    from mrcnn_edge.model.detectron2_checkpoint import _rename

    for depth, head, arch in ((50, "mask", "detectron2_mask_rcnn_R_50_FPN"),
                              (101, "mask", "detectron2_mask_rcnn_R_101_FPN"),
                              (50, "keypoint", "detectron2_keypoint_rcnn_R_50_FPN")):
        names = {_rename(k) for k, _ in key_table(depth, head)}
        assert None not in names and names == set(build_model(arch, num_classes=5).state_dict())


def test_a_keypoint_pkl_is_keypoint_rcnn_of_person(detectron2_pkl, detectron2_state):
    """keypoint_rcnn_R_50_FPN is told by its keypoint head: one class, named person; COCO's 17 keypoints
    with their skeleton; conv_fcn1..8 and score_lowres land in KeypointRCNNHeads and the predictor."""
    from mrcnn_edge.keypoint_layout import coco_person

    d2 = detectron2_state(50, "keypoint")
    model, ckpt = load_model(detectron2_pkl(50, "keypoint"))
    assert (ckpt.arch, ckpt.num_classes, ckpt.classes) == ("detectron2_keypoint_rcnn_R_50_FPN", 2, ["person"])
    assert ckpt.keypoint_layout == coco_person() and ckpt.build_settings == {"num_keypoints": 17}
    heads = model.roi_heads
    assert np.array_equal(heads.keypoint_head[14].weight.detach().numpy(),
                          d2["roi_heads.keypoint_head.conv_fcn8.weight"])
    assert np.array_equal(heads.keypoint_predictor.kps_score_lowres.weight.detach().numpy(),
                          d2["roi_heads.keypoint_head.score_lowres.weight"])
    w = d2["roi_heads.box_predictor.cls_score.weight"]  # [person, background] -> [background, person]
    assert np.array_equal(heads.box_predictor.cls_score.weight.detach().numpy(), w[::-1])


def test_an_r101_keypoint_checkpoint_is_refused_in_one_line():
    from mrcnn_edge.model.detectron2_checkpoint import infer_detectron2_arch

    state = {f"backbone.bottom_up.res4.{b}.conv1.weight": None for b in range(23)}
    state["roi_heads.keypoint_head.score_lowres.weight"] = None
    with pytest.raises(UserError, match=r"23 res4 blocks: only R-50 \(6\) Keypoint R-CNN FPN"):
        infer_detectron2_arch(state)


class _Payload:
    """Unpickling this would call os.system and create a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_pkl_with_a_foreign_global_is_refused_and_nothing_runs(tmp_path, detectron2_state):
    marker, path = tmp_path / "pwned", tmp_path / "model_final_evil.pkl"
    state = dict(list(detectron2_state(50).items())[:3])
    with open(path, "wb") as f:
        pickle.dump({"model": state, "__author__": _Payload(str(marker))}, f)
    with pytest.raises(UserError) as e:
        read_checkpoint(str(path))
    assert "system" in str(e.value) and "refused" in str(e.value) and "\n" not in str(e.value)
    assert not marker.exists()


def test_bad_pkl_files_give_one_line(tmp_path, detectron2_pkl):
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(open(detectron2_pkl(50), "rb").read()[:1000])
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"model": {"backbone.conv.weight": np.zeros(3)}}))
    for path, words in ((truncated, "truncated"), (other, "no detectron2"), (tmp_path / "missing.pkl", "not found")):
        with pytest.raises(UserError, match=words):
            read_checkpoint(str(path))


def test_models_lists_the_detectron2_architectures():
    out = subprocess.run([sys.executable, "-m", "mrcnn_edge.cli", "models"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.returncode == 0, out.stderr
    assert "detectron2_mask_rcnn_R_50_FPN" in out.stdout and "detectron2_mask_rcnn_R_101_FPN" in out.stdout
    assert "detectron2_keypoint_rcnn_R_50_FPN" in out.stdout


def test_anchors_are_detectron2s():
    """DefaultAnchorGenerator, offset 0: unrounded cell anchors, fixed strides (P6 at 64 also when a side
    is not a multiple of 64, where torchvision's inferred stride would be 61 at 800 px)."""
    from torchvision.models.detection.image_list import ImageList

    from mrcnn_edge.model.architectures import build_model

    gen = build_model("detectron2_mask_rcnn_R_50_FPN", num_classes=5).rpn.anchor_generator
    maps = [torch.zeros(1, 1, (800 + s - 1) // s, 1344 // s) for s in (4, 8, 16, 32)] + [torch.zeros(1, 1, 13, 21)]
    anchors = gen(ImageList(torch.zeros(1, 3, 800, 1344), [(800, 1344)]), maps)[0]
    w = np.sqrt(512.0 ** 2 / 0.5)
    p6_first = anchors[-13 * 21 * 3]
    assert torch.allclose(p6_first, torch.tensor([-w / 2, -0.5 * w / 2, w / 2, 0.5 * w / 2], dtype=torch.float32))
    assert torch.allclose(anchors[-3], torch.tensor([20 * 64 - w / 2, 12 * 64 - w / 4, 20 * 64 + w / 2,
                                                     12 * 64 + w / 4], dtype=torch.float32))


def test_pkl_written_by_numpy_1_loads(tmp_path, detectron2_state):
    """Model-zoo files were pickled by numpy 1.x, whose arrays name `numpy.core.multiarray._reconstruct`
    (numpy 2 writes `numpy._core`): both are allowed. Protocol 2 names globals as plain text lines."""
    state = detectron2_state(50)
    data = pickle.dumps({"model": state, "__author__": "Detectron2 Model Zoo"}, protocol=2)
    assert b"numpy._core.multiarray\n_reconstruct" in data
    path = tmp_path / "model_final_np1.pkl"
    path.write_bytes(data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))
    ckpt = read_checkpoint(str(path))
    assert ckpt.arch == "detectron2_mask_rcnn_R_50_FPN" and len(ckpt.state_dict) == len(state)


def test_an_81_class_detectron2_model_takes_cocos_80_names():
    """detectron2's COCO models have 80 contiguous classes + background: COCO's names in id order without
    torchvision's N/A slots (checked by hand against detectron2's builtin_meta COCO_CATEGORIES at 02b5c4e:
    the same 80 names in the same order)."""
    import torch

    from mrcnn_edge.model.checkpoint import Checkpoint, _detectron2_named

    ckpt = Checkpoint(arch="detectron2_mask_rcnn_R_50_FPN", num_classes=81, classes=[], state_dict={"w": torch.zeros(1)})
    named = _detectron2_named(ckpt, None, [])
    assert len(named.classes) == 80 and named.classes[:3] == ["person", "bicycle", "car"]
    assert named.classes[-1] == "toothbrush" and "N/A" not in named.classes and "COCO" in named.notes[0]
    assert _detectron2_named(ckpt, ["a"] * 80, []).classes == ["a"] * 80  # --classes wins
