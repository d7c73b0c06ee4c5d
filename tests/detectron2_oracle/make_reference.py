"""Make `reference.npz`: detectron2's own outputs on the seeded weights of `weights.py`. Not run in CI.

    PYTHONPATH=/tmp/d2:/tmp/d2deps:. python tests/detectron2_oracle/make_reference.py /tmp/d2

/tmp/d2 is detectron2's source (not installed, no C++ ops compiled; nothing is downloaded): its config
files give the architecture (COCO-InstanceSegmentation/mask_rcnn_R_{50,101}_FPN_3x.yaml), its
DetectionCheckpointer reads the generated model-zoo .pkl, and GeneralizedRCNN.inference runs on the CPU.
Stored per (depth, size, photo): boxes, scores, classes (1-based, as ours) and the pasted masks as COCO
RLE (detectron2's paste_masks_in_image through detector_postprocess); for one frame also the first 25
28x28 mask probabilities (float32), which test our copy of detectron2's paste. About 350 KB.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from detectron2_oracle.frames import SIZES, frames  # noqa: E402
from detectron2_oracle.weights import NUM_CLASSES, SEED, digest, make_weights, write_pkl  # noqa: E402

MASKS28_FRAME, MASKS28_ROWS = "r50/320x448/coffee", 25  # the 28x28 probabilities stored (paste test)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.npz")


def detectron2_model(source: str, depth: int, weights: str,
                     config: str = "COCO-InstanceSegmentation/mask_rcnn_R_{depth}_FPN_3x.yaml",
                     num_classes: int = NUM_CLASSES):
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    cfg = get_cfg()
    cfg.merge_from_file(os.path.join(source, "configs", config.format(depth=depth)))
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = num_classes
    cfg.MODEL.WEIGHTS = ""
    model = build_model(cfg).eval()
    DetectionCheckpointer(model).load(weights)
    return model


@torch.inference_mode()
def run(model, frame_rgb: np.ndarray) -> dict[str, np.ndarray]:
    from detectron2.modeling.postprocessing import detector_postprocess
    from pycocotools import mask as mask_util

    H, W, _ = frame_rgb.shape
    image = torch.from_numpy(frame_rgb[:, :, ::-1].astype(np.float32).transpose(2, 0, 1).copy())  # BGR
    raw = model.inference([{"image": image, "height": H, "width": W}], do_postprocess=False)[0]
    probs = raw.pred_masks[:, 0].numpy().copy()  # [N,28,28], each detection's own class
    pasted = detector_postprocess(raw, H, W)  # scale 1: only clips and pastes (threshold 0.5)
    rle = mask_util.encode(np.asfortranarray(pasted.pred_masks.numpy().transpose(1, 2, 0).astype(np.uint8)))
    return {"boxes": pasted.pred_boxes.tensor.numpy(), "scores": pasted.scores.numpy(),
            "classes": pasted.pred_classes.numpy().astype(np.int32) + 1,
            "masks28": probs[:MASKS28_ROWS],  # float32, kept for one frame only (size)
            "rle": np.frombuffer(json.dumps([r["counts"].decode() for r in rle]).encode(), np.uint8)}


def detectron2_commit(source: str) -> str:
    """The commit of the source tree: its git HEAD, else a COMMIT file (an exported archive has no .git)."""
    commit = subprocess.run(["git", "-C", source, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    return commit or open(os.path.join(source, "COMMIT")).read().strip()


def main(source: str) -> None:
    commit = detectron2_commit(source)
    out = {"seed": np.array(SEED), "detectron2_commit": np.array(commit)}
    with tempfile.TemporaryDirectory() as tmp:
        for depth in (50, 101):
            state = make_weights(depth)
            print(f"R-{depth} weights digest {digest(state)} (weights.DIGESTS records it)")
            weights = write_pkl(os.path.join(tmp, f"r{depth}.pkl"), state)
            model = detectron2_model(source, depth, weights)
            for size in SIZES:
                for name, frame in frames(size).items():
                    result = run(model, frame)
                    scores = result["scores"]
                    print(f"R-{depth} {size} {name}: {len(scores)} detections, scores {scores.max():.3f}.."
                          f"{scores.min():.3f}, {len(scores) - len(np.unique(scores))} tied")
                    key = f"r{depth}/{size[0]}x{size[1]}/{name}"
                    if key != MASKS28_FRAME:
                        del result["masks28"]
                    out.update({f"{key}/{k}": v for k, v in result.items()})
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({os.path.getsize(OUT) / 1024:.0f} KB), detectron2 {commit}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/d2")
