"""Seeded random inits of the ResNet-50 architectures, and the test-time settings they are exported and run with
(tests/conftest.py's exported_model; the parity tests' eager side)."""
import torch
from torch import nn


def random_resnet_checkpoint(arch: str, path: str) -> str:
    """Seeded random init with 4 classes (a keypoint arch: torchvision's person class), the last layers redrawn small.

    The classifier: the default init leaves every score tied near 1/C and std 0.5 saturates them all at
    1.0 (measured); ties make the kept set depend on tie-breaking, and this way all 100 scores differ.
    The mask logits: the default init (kaiming) saturates 66% of v2's mask probabilities to exactly 0.0
    or 1.0 (measured), so bilinear upsampling puts whole rows of pasted pixels at exactly 0.5, the paste
    threshold, where cv2 and torch round 1 ulp apart: up to 49 pixels of a mask flipped (both pastes
    are torchvision's formula). With std 0.01 no probability is exactly 0 or 1 and the pastes agree."""
    from mrcnn_edge.model.architectures import build_model
    from mrcnn_edge.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    keypoints = arch.startswith("keypointrcnn")  # torchvision's layout: person and background
    model = build_model(arch, num_classes=2 if keypoints else 5)
    nn.init.normal_(model.roi_heads.box_predictor.cls_score.weight, std=0.01)
    if keypoints:  # heatmap logits of order 1 (the default init's reach 50), so a score's 1e-3 is not rounding
        nn.init.normal_(model.roi_heads.keypoint_predictor.kps_score_lowres.weight, std=0.001)
    else:
        nn.init.normal_(model.roi_heads.mask_predictor.mask_fcn_logits.weight, std=0.01)
    save_checkpoint(path, model, arch=arch, classes=["person"] if keypoints else [f"c{i}" for i in range(1, 5)])
    return path


# The per-RoI heads dominate a random init's frame once every score is kept. Per detection: the keypoint head (8
# convs of 512 channels on each 14x14 RoI) takes a keypoint frame from 1.0 s at 25 detections to 3.2 s at 100,
# the mask head (4 convs of 256 on 14x14) an R50-FPN frame on ONNX Runtime from 1.15 s to 1.9 s, eager from
# 1.3 s to 2.3 s. Per proposal: v2's box head (4 convs of 256 on 7x7) takes its frame from 1.5 s at 300
# proposals to 3.2 s at torchvision's 1000 (measured, one thread, AVX-512). Every RoI passes the same code and
# the plugins take any count, so these prove what the defaults do; the detectron2 mask oracle
# (tests/detectron2_oracle/test_parity.py) keeps the defaults, 1000 proposals and 100 detections.
DETECTIONS = 25
PROPOSALS = 300


# The test-time settings every random init is exported and run eager with: every score kept, so that detections
# exist; the top DETECTIONS of them, from the top PROPOSALS of the RPN.
RANDOM_INIT_SETTINGS = {"box_score_thresh": 0.0, "box_detections_per_img": DETECTIONS,
                        "rpn_post_nms_top_n_test": PROPOSALS}
