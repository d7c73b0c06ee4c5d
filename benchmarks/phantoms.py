"""Phantoms: shapes a model sees where there are none. Counts detections at score >= 0.5 on frames that hold no
shape (flat grey 512x512, flat dark 640x480, grey noise) and on scikit-image's photos, through `Predictor` on each
checkpoint's own model.onnx (ONNX Runtime), and the synthetic val set's AP of each, side by side.

None of these photos is among the backgrounds training draws (mrcnn_edge/data/synthetic.py TRAINING_PHOTOS).
Writes benchmarks/results/phantoms.{json,md}.

    PYTHONPATH=. python benchmarks/phantoms.py --models before=OLD.pth after=mrcnn_edge/weights/shapes_light.pth
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_vs_eager import machine  # noqa: E402


from mrcnn_edge.eval.run import evaluate_cli  # noqa: E402
from mrcnn_edge.export.onnx_export import export_onnx  # noqa: E402
from mrcnn_edge.runtime import Predictor  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
PHOTOS = ("astronaut", "chelsea", "camera", "coffee", "rocket", "hubble_deep_field")
THRESHOLD = 0.5


def frames() -> dict[str, np.ndarray]:
    import skimage.data

    noise = np.clip(np.random.default_rng(0).normal(128, 40, (512, 512, 1)), 0, 255).astype(np.uint8)
    out = {"flat grey 512x512": np.full((512, 512, 3), 128, np.uint8),
           "flat dark 640x480": np.full((480, 640, 3), 20, np.uint8),
           "grey noise 512x512": np.repeat(noise, 3, 2)}
    for name in PHOTOS:
        image = np.asarray(getattr(skimage.data, name)())
        out[name] = np.repeat(image[..., None], 3, 2) if image.ndim == 2 else image[..., :3]
    return out


def phantoms(checkpoint: str, images: dict[str, np.ndarray], folder: str) -> dict[str, int]:
    path = os.path.join(folder, os.path.basename(checkpoint).replace(".pth", ".onnx"))
    export_onnx(checkpoint, path)
    predictor = Predictor.from_path(path, backend="onnxruntime")
    return {name: int((predictor(frame).scores >= THRESHOLD).sum()) for name, frame in images.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", required=True, help="label=checkpoint.pth ...")
    parser.add_argument("--val-images", type=int, default=200)
    args = parser.parse_args()
    models = dict(m.split("=", 1) for m in args.models)
    images = frames()
    with tempfile.TemporaryDirectory() as folder:
        counts = {label: phantoms(path, images, folder) for label, path in models.items()}
    table = evaluate_cli(list(models.values()), num_images=args.val_images)
    info = {**machine(), "threshold": THRESHOLD, "models": models, "phantoms": counts, "val": table}
    json.dump(info, open(os.path.join(RESULTS, "phantoms.json"), "w"), indent=2)
    labels = list(models)
    lines = [f"# Phantoms: detections at score >= {THRESHOLD} on frames without shapes ({info['date']})", "",
             "| frame | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    lines += [f"| {name} | " + " | ".join(str(counts[l][name]) for l in labels) + " |" for name in images]
    plain = [n for n in images if n not in PHOTOS]
    for what, names in (("plain frames, per frame", plain), ("photos, per frame", PHOTOS)):
        lines.append(f"| **{what}** | " + " | ".join(f"{np.mean([counts[l][n] for n in names]):.1f}" for l in labels) + " |")
    lines += ["", f"Synthetic val set ({args.val_images} images), eager, AP x100 (rows in the order above):", "",
              table]
    open(os.path.join(RESULTS, "phantoms.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
