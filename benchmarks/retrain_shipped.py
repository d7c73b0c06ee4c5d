"""The shipped shapes model, made again with `mrcnn-edge train --data` (issue 30, part 3): the shapes generator
writes a COCO set of the same shapes on photos, plain walls, gradients and noise as well as clutter, a sixth of
the frames empty (data/synthetic.py SCENES), and the shipped model is fine-tuned on it from itself. Then the
phantoms before and after (benchmarks/phantoms.py: detections at score >= 0.5 on frames without shapes) and the
synthetic val set's AP of both.

The new checkpoint is written to --out; replacing mrcnn_edge/weights/shapes_light.pth with it is a separate,
reviewed step (its val AP must stay within 1 point of the shipped one's).

    PYTHONPATH=. python benchmarks/retrain_shipped.py --iterations 800
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mrcnn_edge.data.coco import write_synthetic_coco  # noqa: E402
from mrcnn_edge.data.synthetic import SCENES, VAL  # noqa: E402
from mrcnn_edge.model.zoo import SHIPPED_CHECKPOINT  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default="/tmp/retrain_shipped")
    parser.add_argument("--train-images", type=int, default=1200)
    parser.add_argument("--val-images", type=int, default=100, help="val set during training (phantoms.py uses 200)")
    parser.add_argument("--iterations", type=int, default=800)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--train-args", nargs=argparse.REMAINDER, default=[], help="more `train` flags, last")
    args = parser.parse_args()
    train = write_synthetic_coco(SCENES, args.train_images, os.path.join(args.root, "scenes"))
    val = write_synthetic_coco(VAL, args.val_images, os.path.join(args.root, "val"))
    out = os.path.join(args.root, "run")
    before = os.path.join(args.root, "before.pth")
    shutil.copy(SHIPPED_CHECKPOINT, before)  # phantoms.py names each model by its file
    subprocess.run([sys.executable, "-m", "mrcnn_edge.cli", "train", "--data", train,
                    "--images", os.path.join(args.root, "scenes", "images"), "--val-data", val,
                    "--val-images", os.path.join(args.root, "val", "images"), "--init", before, "--size", "512x512",
                    "--iterations", str(args.iterations), "--batch", str(args.batch),
                    "--eval-every", str(args.iterations // 2), "--out", out, *args.train_args], check=True)
    subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "phantoms.py"),
                    "--models", f"before={before}", f"after={os.path.join(out, 'best.pth')}"], check=True)


if __name__ == "__main__":
    main()
