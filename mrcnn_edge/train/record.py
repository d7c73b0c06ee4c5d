"""What a run shows its user: metrics.csv (each logged step and each evaluation), curves.png (the loss terms and
val AP over the iterations) and, asked for, TensorBoard event files. Only the main process makes one."""
from __future__ import annotations

import csv
import os

from ..errors import UserError

METRICS, CURVES, TENSORBOARD = "metrics.csv", "curves.png", "tensorboard"
# torchvision's loss names (Mask R-CNN and Keypoint R-CNN), then what a row adds
LOSS_TERMS = ("loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg", "loss_mask", "loss_keypoint")
AP_TERMS = ("box_ap", "box_ap50", "mask_ap", "mask_ap50", "keypoint_ap", "keypoint_ap50")
COLUMNS = ("kind", "iteration", "epoch", "seconds", "lr", "loss", *LOSS_TERMS, "images_per_s", *AP_TERMS)


class Record:
    def __init__(self, out_dir: str, *, resume_at: int = 0, tensorboard: bool = False):
        self.path = os.path.join(out_dir, METRICS)
        self.curves = os.path.join(out_dir, CURVES)
        self.rows = _rows_until(self.path, resume_at)  # an interrupted run's rows past its checkpoint go
        with open(self.path, "w", newline="") as f:
            writer = csv.DictWriter(f, COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
        self.writer = _tensorboard(os.path.join(out_dir, TENSORBOARD), resume_at) if tensorboard else None

    def add(self, kind: str, row: dict) -> None:
        """Append a row ("train": a logged step; "val": an evaluation); unknown keys are an error in the code."""
        row = {"kind": kind, **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()}}
        self.rows.append(row)
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, COLUMNS).writerow(row)
        if self.writer is not None:
            for key, value in row.items():
                if key not in ("kind", "iteration", "epoch") and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"{kind}/{key}", value, row["iteration"])
            self.writer.flush()

    def plot(self) -> str:
        """curves.png: loss terms (log scale) on the left, val AP on the right, against the iteration."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        train = [r for r in self.rows if r["kind"] == "train"]
        val = [r for r in self.rows if r["kind"] == "val"]
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
        for term in ("loss", *LOSS_TERMS):
            points = [(int(r["iteration"]), float(r[term])) for r in train if r.get(term) not in (None, "")]
            if points:
                left.plot(*zip(*points), label=term, linewidth=2 if term == "loss" else 1)
        left.set(xlabel="iteration", ylabel="loss", yscale="log", title="training loss")
        left.legend(fontsize=8)
        for term in ("box_ap", "mask_ap", "keypoint_ap"):
            points = [(int(r["iteration"]), float(r[term])) for r in val if r.get(term) not in (None, "")]
            if points:
                right.plot(*zip(*points), marker="o", label=term)
        right.set(xlabel="iteration", ylabel="AP (COCO, 0.5:0.95)", ylim=(0, 1), title="val AP")
        if val:
            right.legend(fontsize=8)
        else:
            right.text(0.5, 0.5, "no val set (--val-data)", ha="center", transform=right.transAxes)
        fig.tight_layout()
        fig.savefig(self.curves, dpi=90)
        plt.close(fig)
        return self.curves

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _rows_until(path: str, iteration: int) -> list[dict]:
    if not iteration or not os.path.isfile(path):
        return []
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if int(r["iteration"]) <= iteration]


def _tensorboard(folder: str, resume_at: int):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserError("--tensorboard needs the tensorboard package: pip install tensorboard "
                        "(or leave --tensorboard out: metrics.csv and curves.png are always written)") from None
    return SummaryWriter(folder, purge_step=resume_at or None)  # a resumed run drops the steps it repeats
