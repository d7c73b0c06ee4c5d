"""A domain the toolkit never drew (workshop hardware: washers, nuts, wrenches on a bench), learned on this CPU:
the light model fine-tuned from the shipped model's backbone, against the same budget from scratch, then the
chain on the fine-tuned checkpoint (`build --precision int8`, `eval --data` on the val set: every artifact's AP).

Writes benchmarks/results/train_new_domain.{json,md} and the runs' curves as train_new_domain_<start>.png.

    PYTHONPATH=. python benchmarks/train_new_domain.py --iterations 1500
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_vs_eager import machine  # noqa: E402
from train_speed import RESULTS, isa  # noqa: E402

from mrcnn_edge.data.hardware import write_hardware_coco  # noqa: E402
from mrcnn_edge.model.checkpoint import read_checkpoint  # noqa: E402
from mrcnn_edge.model.zoo import SHIPPED_CHECKPOINT  # noqa: E402

STARTS = {"shipped backbone": ["--init-backbone", SHIPPED_CHECKPOINT], "scratch": []}


def _cli(*args: str) -> str:
    """Run the CLI as a user does; its stdout."""
    done = subprocess.run([sys.executable, "-m", "mrcnn_edge.cli", *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"mrcnn-edge {args[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def train(name: str, data: dict, args, root: str) -> dict:
    out = os.path.join(root, name.replace(" ", "_"))
    start = time.time()
    _cli("train", "--data", data["train"], "--images", data["train_images"], "--val-data", data["val"],
         "--val-images", data["val_images"], "--size", f"{args.size}x{args.size}", "--iterations",
         str(args.iterations), "--batch", str(args.batch), "--eval-every", str(args.eval_every), "--out", out,
         *STARTS[name], *args.train_args)
    minutes = (time.time() - start) / 60
    best = read_checkpoint(os.path.join(out, "best.pth"))
    shutil.copy(os.path.join(out, "curves.png"), os.path.join(RESULTS, f"train_new_domain_{name.replace(' ', '_')}.png"))
    return {"start": name, "iterations": args.iterations, "minutes": round(minutes, 1), "out": out,
            **{k: round(v, 4) for k, v in best.extra["metrics"].items()}}


def chain(run: dict, data: dict) -> str:
    """build --precision int8 on the run's best.pth (calibrated on the val images), then eval --data: the ΔAP table."""
    best = os.path.join(run["out"], "best.pth")
    build = os.path.join(run["out"], "build")
    _cli("build", "--weights", best, "--precision", "int8", "--calib-source", data["val_images"], "--out-dir", build)
    _cli("build", "--weights", best, "--precision", "fp32", "--out-dir", build)
    models = sorted(os.path.join(build, f) for f in os.listdir(build)
                    if f.endswith(".onnx") and ".trt." not in f and ".calib" not in f)
    return _cli("eval", "--data", data["val"], "--images", data["val_images"], "--model", best, *models)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default="/tmp/train_new_domain")
    parser.add_argument("--train-images", type=int, default=300)
    parser.add_argument("--val-images", type=int, default=60)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--iterations", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--starts", nargs="+", default=list(STARTS), choices=list(STARTS))
    parser.add_argument("--train-args", nargs=argparse.REMAINDER, default=[], help="more `train` flags, last")
    args = parser.parse_args()
    os.makedirs(args.root, exist_ok=True)
    data = {"train": write_hardware_coco(os.path.join(args.root, "train"), args.train_images, seed=1),
            "train_images": os.path.join(args.root, "train", "images"),
            "val": write_hardware_coco(os.path.join(args.root, "val"), args.val_images, seed=2),
            "val_images": os.path.join(args.root, "val", "images")}
    runs = [train(name, data, args, args.root) for name in args.starts]
    table = chain(runs[0], data)
    info = {**machine(), "isa": isa(), "torch": torch.__version__, "settings": vars(args), "runs": runs,
            "chain": table}
    json.dump(info, open(os.path.join(RESULTS, "train_new_domain.json"), "w"), indent=2)
    lines = [f"# A new domain on this CPU: {info['cpu']}, {info['cores']} cores, ISA: {info['isa']}; {info['date']}", "",
             f"{args.train_images} training and {args.val_images} val images of workshop hardware "
             f"(`mrcnn_edge/data/hardware.py`), {args.size}x{args.size}, batch {args.batch}, "
             f"{args.iterations} iterations each; val AP of best.pth (COCO AP x100).", "",
             "| start | iterations | minutes | val box AP | val mask AP | curves |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['start']} | {r['iterations']} | {r['minutes']} | {100 * r['box_ap']:.1f} | {100 * r['mask_ap']:.1f} "
              f"| [png](train_new_domain_{r['start'].replace(' ', '_')}.png) |" for r in runs]
    lines += ["", f"The chain on the {runs[0]['start']} run's best.pth (`build --precision int8` and fp32, then "
              "`eval --data` on the val set):", "", "```", table.strip(), "```"]
    open(os.path.join(RESULTS, "train_new_domain.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
