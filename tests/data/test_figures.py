"""The synthetic keypoint set: its labels, its COCO file, and keypoint AP through pycocotools (the oracle) on
the set's own ground truth, exact and perturbed."""
import numpy as np

from mrcnn_edge.data import figures
from mrcnn_edge.data.coco import synthetic_coco
from mrcnn_edge.eval.coco_eval import coco_ap, results_of


def test_figures_are_labelled_as_coco_keypoints():
    image, masks, keypoints = figures.sample(figures.VAL, 0)
    assert image.shape == (512, 512, 3) and len(masks) == len(keypoints) >= 1
    assert figures.LAYOUT.num_keypoints >= 8 and len(figures.LIMBS) >= figures.LAYOUT.num_keypoints - 1
    assert set(np.unique(keypoints[..., 2])) <= {0, 1, 2}
    np.testing.assert_array_equal(figures.sample(figures.VAL, 0)[2], keypoints)  # deterministic from the seed
    visible = keypoints[..., 2] == 2
    for mask, points, shown in zip(masks, keypoints, visible):  # a visible joint lies on its figure's pixels
        for x, y in points[shown, :2].astype(int):
            assert mask[max(0, y - 1): y + 2, max(0, x - 1): x + 2].any()


def test_occlusion_and_overlap_occur_across_the_set():
    flags = np.concatenate([figures.sample(figures.VAL, i)[2][..., 2].ravel() for i in range(20)])
    assert (flags == 1).sum() > 0 and (flags == 2).sum() > (flags == 1).sum()  # some covered, most visible


def _as_results(coco: dict, shift: float = 0.0, swap: bool = False) -> list[dict]:
    """Ground truth as detections; optionally every keypoint moved by `shift` px, or left and right swapped."""
    names = figures.LAYOUT.names
    order = [names.index(n.replace("left", "RIGHT").replace("right", "left").replace("RIGHT", "right"))
             if swap else i for i, n in enumerate(names)]
    rows = []
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        points = np.array(ann["keypoints"], np.float32).reshape(-1, 3)[order]
        points[:, :2] += shift
        rows += results_of(ann["image_id"], np.array([[x, y, x + w, y + h]]), np.array([1.0]), np.array([1]),
                           keypoints=points[None])
    return rows


def test_keypoint_ap_of_the_ground_truth_is_one_and_falls_with_errors():
    coco = synthetic_coco(figures.VAL, 8)
    sigmas = coco["categories"][0]["sigmas"]
    exact = coco_ap(coco, _as_results(coco), evaluator="pycocotools", keypoint_sigmas=sigmas)
    assert exact.keypoint_ap > 0.99 and exact.mask_ap is None
    shifted = coco_ap(coco, _as_results(coco, shift=4.0), evaluator="pycocotools", keypoint_sigmas=sigmas)
    swapped = coco_ap(coco, _as_results(coco, swap=True), evaluator="pycocotools", keypoint_sigmas=sigmas)
    assert shifted.keypoint_ap < exact.keypoint_ap - 0.1 and swapped.keypoint_ap < exact.keypoint_ap - 0.3
