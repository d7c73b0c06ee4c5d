"""What a training run on a COCO-format set is asked to do: `mrcnn-edge train --data ...`, as one dataclass."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError
from ..export.onnx_export import check_size
from ..model.architectures import ARCHITECTURES, LIGHT_ARCH
from .norm import TRUNK_NORMS

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("step", "cosine")
# The paper's SGD learning rate, 0.02 for a batch of 16 images, scaled linearly with the global batch (Goyal et
# al., as detectron2 and torchvision's references do); AdamW's rate is not scaled.
SGD_LR_PER_16 = 0.02
ADAMW_LR = 1e-4
DEFAULT_EPOCHS = 12  # detectron2's 1x schedule is ~12 COCO epochs


@dataclass
class CocoTrainConfig:
    """What `mrcnn-edge train --data` is told: the data, where training starts, the loop and where it writes.
    check() refuses a bad combination in one line (UserError) before anything is read."""

    data: str  # instances (or person_keypoints) JSON
    images: str  # the folder its file_name entries are in
    out: str = "runs/train"
    val_data: str | None = None
    val_images: str | None = None
    arch: str = LIGHT_ARCH
    init: str | None = None  # every tensor of this file that fits
    init_backbone: str | None = None  # only the shared parts of this file (starts.SHARED_PARTS)
    iterations: int | None = None  # optimizer steps; None: `epochs` epochs
    epochs: int | None = None
    batch: int = 2  # images per process per micro-batch
    accumulate: int = 1  # micro-batches per optimizer step (global batch = batch x processes x accumulate)
    size: tuple[int, int] = (512, 512)  # the model's input: every frame is letterboxed to it, as at deploy
    device: str | None = None  # None: cuda where available, else cpu
    optimizer: str = "sgd"
    lr: float | None = None  # None: SGD_LR_PER_16 scaled to the global batch, or ADAMW_LR
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "step"  # step: x0.1 at 2/3 and 8/9 of the run (detectron2's 1x steps); cosine: to zero
    warmup: int | None = None  # linear warm-up iterations; None: min(1000, a tenth of the run)
    clip_grad: float | None = 10.0  # max gradient norm; None: no clipping
    augment: bool = True
    checkpoint_every: int = 500  # iterations between writes of last.pth (and resume.pth)
    eval_every: int | None = None  # iterations between val evaluations; None: each epoch
    log_every: int = 20  # iterations between metrics.csv rows
    workers: int = 1  # data-loading processes per training process
    seed: int = 0
    resume: bool = False
    tensorboard: bool = False
    strict: bool = False  # a bad row of the data is an error instead of skipped
    norm: str = "auto"  # the trunk's BatchNorm (norm.TRUNK_NORMS): auto freezes it when the run starts from weights

    def check(self) -> None:
        """The flags that contradict each other, one line each, before anything is read."""
        if self.arch not in ARCHITECTURES:
            raise UserError(f"unknown architecture '{self.arch}': choose one of {', '.join(ARCHITECTURES)}")
        if not self.data or not self.images:
            raise UserError("pass --data TRAIN.json and --images DIR together")
        if (self.val_data is None) != (self.val_images is None):
            raise UserError("pass --val-data VAL.json and --val-images DIR together (or neither)")
        if self.init and self.init_backbone:
            raise UserError("pass --init or --init-backbone, not both")
        if self.iterations is not None and self.epochs is not None:
            raise UserError("pass --iterations or --epochs, not both")
        for name in ("iterations", "epochs", "batch", "accumulate", "checkpoint_every", "log_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"--{name.replace('_', '-')} is {value}: give 1 or more")
        if self.workers < 0:
            raise UserError(f"--workers is {self.workers}: give 0 (load in the training process) or more")
        if self.optimizer not in OPTIMIZERS:
            raise UserError(f"unknown optimizer '{self.optimizer}': choose {', '.join(OPTIMIZERS)}")
        if self.norm not in TRUNK_NORMS:
            raise UserError(f"unknown --norm '{self.norm}': choose {', '.join(TRUNK_NORMS)}")
        if self.schedule not in SCHEDULES:
            raise UserError(f"unknown schedule '{self.schedule}': choose {', '.join(SCHEDULES)}")
        check_size(self.size)  # export's own rule: a size training takes, `build` takes too

    def learning_rate(self, global_batch: int) -> float:
        if self.lr is not None:
            return self.lr
        return SGD_LR_PER_16 * global_batch / 16 if self.optimizer == "sgd" else ADAMW_LR
