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
from mrcnn_edge.model.architectures import LIGHT_S8_ARCH  # noqa: E402
from mrcnn_edge.model.checkpoint import read_checkpoint  # noqa: E402
from mrcnn_edge.model.zoo import SHIPPED_CHECKPOINT  # noqa: E402

# The shipped model whole (its mask head too; only the class-sized predictors start fresh), its backbone
# alone (backbone, FPN, RPN and box head: train/starts.SHARED_PARTS), and nothing. The whole model is not in the
# default table: its shapes-trained mask head gave no head start here (val mask AP 6.3 at iteration 500 against
# the backbone start's 7.0, same settings, 2026-12-05), so the table compares the two starts. The
# stride-8 row is the light architecture with a stride-8 FPN map (its FPN starts fresh, the rest as the backbone row).
STARTS = {"shipped model": ["--init", SHIPPED_CHECKPOINT], "shipped backbone": ["--init-backbone", SHIPPED_CHECKPOINT],
          "shipped backbone, stride-8 map": ["--init-backbone", SHIPPED_CHECKPOINT, "--arch", LIGHT_S8_ARCH],
          "scratch": []}


def _cli(*args: str) -> str:
    """Run the CLI as a user does; its stdout."""
    done = subprocess.run([sys.executable, "-m", "mrcnn_edge.cli", *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"mrcnn-edge {args[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _slug(start: str) -> str:
    return start.replace(", ", "_").replace(" ", "_").replace("-", "")


def train(name: str, data: dict, args, root: str) -> dict:
    out = os.path.join(root, _slug(name))
    start = time.time()
    _cli("train", "--data", data["train"], "--images", data["train_images"], "--val-data", data["val"],
         "--val-images", data["val_images"], "--size", f"{args.size}x{args.size}", "--iterations",
         str(args.iterations), "--batch", str(args.batch), "--eval-every", str(args.eval_every), "--out", out,
         *STARTS[name], *args.train_args)
    minutes = (time.time() - start) / 60
    best = read_checkpoint(os.path.join(out, "best.pth"))
    shutil.copy(os.path.join(out, "curves.png"), os.path.join(RESULTS, f"train_new_domain_{_slug(name)}.png"))
    return {"start": name, "iterations": args.iterations, "minutes": round(minutes, 1), "load": args.load, "out": out,
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


# What makes two runs comparable rows of one table (all but which starts this invocation trains).
SAME = ("train_images", "val_images", "size", "iterations", "batch", "eval_every")


def _flags(train_args: list[str]) -> list[str]:
    """The flags that change what is learned (how often a row is logged does not)."""
    return [a for i, a in enumerate(train_args) if a != "--log-every" and train_args[i - 1:i] != ["--log-every"]]


def _earlier_runs(args) -> list[dict]:
    """The rows of starts not trained this time, kept from the last results file when its settings and CPU are
    these (minutes on another CPU are not this table's)."""
    try:
        earlier = json.load(open(os.path.join(RESULTS, "train_new_domain.json")))
    except (OSError, ValueError):
        return []
    if any(earlier["settings"].get(k) != getattr(args, k) for k in SAME) or earlier["cpu"] != machine()["cpu"] or \
            _flags(earlier["settings"]["train_args"]) != _flags(args.train_args):
        return []
    return [r for r in earlier["runs"] if r["start"] in STARTS and r["start"] not in args.starts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default="/tmp/train_new_domain")
    parser.add_argument("--train-images", type=int, default=300)
    parser.add_argument("--val-images", type=int, default=60)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--iterations", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--starts", nargs="+", default=["shipped backbone", "scratch"], choices=list(STARTS))
    parser.add_argument("--load", default="idle", help="what else ran on the machine, for the table")
    parser.add_argument("--train-args", nargs=argparse.REMAINDER, default=[], help="more `train` flags, last")
    args = parser.parse_args()
    os.makedirs(args.root, exist_ok=True)
    data = {"train": write_hardware_coco(os.path.join(args.root, "train"), args.train_images, seed=1),
            "train_images": os.path.join(args.root, "train", "images"),
            "val": write_hardware_coco(os.path.join(args.root, "val"), args.val_images, seed=2),
            "val_images": os.path.join(args.root, "val", "images")}
    runs = _earlier_runs(args) + [train(name, data, args, args.root) for name in args.starts]
    runs.sort(key=lambda r: list(STARTS).index(r["start"]))
    best = max(runs, key=lambda r: r["mask_ap"])
    table = chain(best, data)
    info = {**machine(), "isa": isa(), "torch": torch.__version__, "settings": vars(args), "runs": runs,
            "chain": table, "chain_on": best["start"]}
    json.dump(info, open(os.path.join(RESULTS, "train_new_domain.json"), "w"), indent=2)
    write_table(info)


def write_table(info: dict) -> None:
    settings = info["settings"]
    lines = [f"# A new domain on this CPU: {info['cpu']}, {info['cores']} cores, ISA: {info['isa']}; {info['date']}", "",
             f"{settings['train_images']} training and {settings['val_images']} val images of workshop hardware "
             f"(`mrcnn_edge/data/hardware.py`), {settings['size']}x{settings['size']}, batch {settings['batch']}, "
             f"{settings['iterations']} iterations each, `train` flags `{' '.join(settings['train_args'])}`; "
             "val AP of best.pth (COCO AP x100). Minutes are wall-clock on the 2 cores, with the load named.", "",
             "| start | iterations | minutes | load | val box AP | val mask AP | curves |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['start']} | {r['iterations']} | {r['minutes']} | {r.get('load', 'idle')} | {100 * r['box_ap']:.1f} "
              f"| {100 * r['mask_ap']:.1f} | [png](train_new_domain_{_slug(r['start'])}.png) |"
              for r in info["runs"]]
    lines += ["", f"The chain on the {info['chain_on']} run's best.pth (`build --precision int8` and fp32, then "
              "`eval --data` on the val set):", "", "```", info["chain"].strip(), "```"]
    open(os.path.join(RESULTS, "train_new_domain.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))

if __name__ == "__main__":
    main()
