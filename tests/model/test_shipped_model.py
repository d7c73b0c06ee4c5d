"""The shipped demo model, run in torchvision eager on held-out synthetic val images."""
from mrcnn_edge.data.synthetic import VAL
from mrcnn_edge.eval.coco_eval import evaluate_synthetic
from mrcnn_edge.model.checkpoint import load_model
from mrcnn_edge.model.eager import EagerPredictor

# Chance is ~0: a random-init model scores mask AP < 0.01 here. The model reached the AP recorded in
# its checkpoint on 200 images; 20 images vary, so the bar sits well below that and far above chance.
MIN_MASK_AP = 0.45
MIN_BOX_AP = 0.45


def test_shipped_model_mask_ap(shipped_checkpoint):
    model, ckpt = load_model(shipped_checkpoint)
    result = evaluate_synthetic(EagerPredictor(model), VAL, num_images=20)
    assert result.mask_ap >= MIN_MASK_AP, result
    assert result.box_ap >= MIN_BOX_AP, result
    assert ckpt.classes == ["circle", "rectangle", "triangle", "star"]


# The keypoint model reached the keypoint AP in its checkpoint (weights/README.md) on 200 images; a
# random-init model scores ~0.
MIN_KEYPOINT_AP = 0.55


def test_shipped_keypoint_model_keypoint_ap():
    from mrcnn_edge.data import figures
    from mrcnn_edge.model.zoo import default_checkpoint

    model, ckpt = load_model(default_checkpoint("keypoints"))
    result = evaluate_synthetic(EagerPredictor(model), figures.VAL, num_images=20)
    assert result.keypoint_ap >= MIN_KEYPOINT_AP, result
    assert result.mask_ap is None and ckpt.keypoint_layout == figures.LAYOUT
