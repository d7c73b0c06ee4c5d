import pytest
import torch

from mrcnn_edge.errors import UserError
from mrcnn_edge.model.architectures import ARCHITECTURES, LIGHT_ARCH, build_model


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_architecture_builds_and_runs(arch):
    torch.manual_seed(0)
    model = build_model(arch, num_classes=7, min_size=320, max_size=320, box_score_thresh=0.0)
    assert model.roi_heads.box_predictor.cls_score.out_features == 7
    with torch.inference_mode():
        out = model([torch.rand(3, 320, 320)])[0]
    if ARCHITECTURES[arch].heads == ("keypoint",):
        assert set(out) == {"boxes", "labels", "scores", "keypoints", "keypoints_scores"}
        assert out["keypoints"].shape[1:] == (17 if "resnet50" in arch or "R_50" in arch else 11, 3)
        return
    assert model.roi_heads.mask_predictor.mask_fcn_logits.out_channels == 7
    assert set(out) == {"boxes", "labels", "scores", "masks"}
    assert out["masks"].shape[1:] == (1, 320, 320)


def test_test_time_settings_reach_the_model():
    model = build_model(LIGHT_ARCH, num_classes=5, box_detections_per_img=17, rpn_post_nms_top_n_test=123)
    assert model.roi_heads.detections_per_img == 17
    assert model.rpn._post_nms_top_n["testing"] == 123


def test_light_model_is_small():
    model = build_model(LIGHT_ARCH, num_classes=5)
    params = sum(p.numel() for p in model.parameters())
    assert params < 7_000_000  # the shipped checkpoint must stay well under 30 MB


def test_unknown_architecture_is_a_user_error():
    with pytest.raises(UserError, match="unknown architecture 'resnet9'"):
        build_model("resnet9", num_classes=2)
