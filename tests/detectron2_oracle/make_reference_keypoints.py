"""Make `reference_keypoints.npz`: detectron2's own Keypoint R-CNN outputs on the seeded weights of
`weights.py` (head "keypoint"). Not run in CI.

    PYTHONPATH=/tmp/d2:/tmp/d2deps:. python tests/detectron2_oracle/make_reference_keypoints.py /tmp/d2

As make_reference.py: detectron2's source, not installed and without its C++ ops; its config
COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x.yaml gives the architecture (1x differs only in the schedule), its
DetectionCheckpointer reads the generated .pkl, GeneralizedRCNN.inference runs on the CPU. Stored per
size, on its one photo (frames.PHOTO_OF_SIZE): boxes, scores, classes (1-based, as ours) and
pred_keypoints [N,17,3] as its Instances hold them (x, y, detectron2's keypoint score), all after
detector_postprocess (scale 1). About 40 KB.
"""
from __future__ import annotations

import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from detectron2_oracle.frames import PHOTO_OF_SIZE, frames  # noqa: E402
from detectron2_oracle.make_reference import detectron2_commit, detectron2_model  # noqa: E402
from detectron2_oracle.weights import KEYPOINT_CLASSES, SEED, digest, make_weights, write_pkl  # noqa: E402

CONFIG = "COCO-Keypoints/keypoint_rcnn_R_{depth}_FPN_3x.yaml"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_keypoints.npz")


@torch.inference_mode()
def run(model, frame_rgb: np.ndarray) -> dict[str, np.ndarray]:
    from detectron2.modeling.postprocessing import detector_postprocess

    H, W, _ = frame_rgb.shape
    image = torch.from_numpy(frame_rgb[:, :, ::-1].astype(np.float32).transpose(2, 0, 1).copy())  # BGR
    raw = model.inference([{"image": image, "height": H, "width": W}], do_postprocess=False)[0]
    out = detector_postprocess(raw, H, W)  # scale 1: only clips the boxes
    return {"boxes": out.pred_boxes.tensor.numpy(), "scores": out.scores.numpy(),
            "classes": out.pred_classes.numpy().astype(np.int32) + 1,
            "keypoints": out.pred_keypoints.numpy().astype(np.float32)}


def main(source: str) -> None:
    commit = detectron2_commit(source)
    out = {"seed": np.array(SEED), "detectron2_commit": np.array(commit)}
    with tempfile.TemporaryDirectory() as tmp:
        state = make_weights(50, head="keypoint")
        print(f"weights digest {digest(state)} (weights.DIGESTS records it)")
        weights = write_pkl(os.path.join(tmp, "keypoint_r50.pkl"), state)
        model = detectron2_model(source, 50, weights, CONFIG, KEYPOINT_CLASSES)
        for size, name in PHOTO_OF_SIZE.items():
            result = run(model, frames(size)[name])
            scores, kp_scores = result["scores"], result["keypoints"][..., 2]
            print(f"{size} {name}: {len(scores)} detections, scores {scores.max():.3f}..{scores.min():.3f}, "
                  f"{len(scores) - len(np.unique(scores))} tied; keypoint scores {np.percentile(kp_scores, 5):.4f}"
                  f"..{np.percentile(kp_scores, 95):.4f}")
            out.update({f"{size[0]}x{size[1]}/{name}/{k}": v for k, v in result.items()})
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({os.path.getsize(OUT) / 1024:.0f} KB), detectron2 {commit}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/d2")
