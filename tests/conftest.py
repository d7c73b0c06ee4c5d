import os

import pytest
import torch
from torch import nn

from helpers.shared import made_once, result_made_once, run_folder

# Tests share 2 cores with each other's subprocesses and, under `make test`, with a second pytest-xdist
# worker: one intra-op thread per worker then, two when pytest runs alone.
THREADS = "1" if os.environ.get("PYTEST_XDIST_WORKER") else "2"
torch.set_num_threads(int(os.environ.get("MRCNN_EDGE_TEST_THREADS", THREADS)))


@pytest.fixture(scope="session")
def shipped_checkpoint():
    from mrcnn_edge.model.zoo import SHIPPED_CHECKPOINT

    if not os.path.isfile(SHIPPED_CHECKPOINT):
        pytest.fail(f"shipped checkpoint missing: {SHIPPED_CHECKPOINT}")
    return SHIPPED_CHECKPOINT


def random_resnet_checkpoint(arch: str, path: str) -> str:
    """Seeded random init with 4 classes (a keypoint arch: torchvision's person class), the last layers redrawn small.

    The classifier: the default init leaves every score tied near 1/C and std 0.5 saturates them all at
    1.0 (measured); ties make the kept set depend on tie-breaking, and this way all 100 scores differ.
    The mask logits: the default init (kaiming) saturates 66% of v2's mask probabilities to exactly 0.0
    or 1.0 (measured), so bilinear upsampling puts whole rows of pasted pixels at exactly 0.5, the paste
    threshold, where cv2 and torch round 1 ulp apart: up to 49 pixels of a mask flipped (both pastes
    are torchvision's formula). With std 0.01 no probability is exactly 0 or 1 and the pastes agree."""
    from mrcnn_edge.model.architectures import build_model
    from mrcnn_edge.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    keypoints = arch.startswith("keypointrcnn")  # torchvision's layout: person and background
    model = build_model(arch, num_classes=2 if keypoints else 5)
    nn.init.normal_(model.roi_heads.box_predictor.cls_score.weight, std=0.01)
    if keypoints:  # heatmap logits of order 1 (the default init's reach 50), so a score's 1e-3 is not rounding
        nn.init.normal_(model.roi_heads.keypoint_predictor.kps_score_lowres.weight, std=0.001)
    else:
        nn.init.normal_(model.roi_heads.mask_predictor.mask_fcn_logits.weight, std=0.01)
    save_checkpoint(path, model, arch=arch, classes=["person"] if keypoints else [f"c{i}" for i in range(1, 5)])
    return path


@pytest.fixture(scope="session")
def exported_model(tmp_path_factory, shipped_checkpoint):
    """exported_model(arch, (H, W), batch_size=1) -> path of model.onnx, exported once per run and shared by
    the run's workers (tests/helpers/shared.py).

    arch "shipped" is the shipped checkpoint; the ResNet-50 architectures are seeded random inits
    exported with score threshold 0 so that detections exist. batch_size None: a dynamic batch axis.
    """
    from mrcnn_edge.export.onnx_export import export_onnx

    root = run_folder(tmp_path_factory, "exports")

    def get(arch: str, size: tuple[int, int], batch_size: int | None = 1) -> str:
        out = root / f"{arch}_{size[0]}x{size[1]}{'' if batch_size == 1 else '_dynamic'}.onnx"
        if arch == "shipped":
            return made_once(out, lambda path: export_onnx(shipped_checkpoint, path, size, batch_size=batch_size,
                                                           progress=False))
        weights = made_once(root / f"{arch}.pth", lambda path: random_resnet_checkpoint(arch, path))
        return made_once(out, lambda path: export_onnx(weights, path, size, batch_size=batch_size, progress=False,
                                                       box_score_thresh=0.0))

    return get


@pytest.fixture(scope="session")
def surgeried_model(exported_model, tmp_path_factory):
    """surgeried_model(arch, (H, W), batch_size=1) -> SurgeryResult of that export, made once per run
    (tests/surgery checks it against ONNX Runtime; tests/check holds it to TensorRT's rules)."""
    from mrcnn_edge.surgery.surgeon import SurgeryResult, surgeon

    root = run_folder(tmp_path_factory, "surgery")

    def get(arch: str, size: tuple[int, int], batch_size: int | None = 1):
        name = f"{arch}_{size[0]}x{size[1]}{'' if batch_size == 1 else '_dynamic'}.trt.onnx"
        source = exported_model(arch, size, batch_size)
        return result_made_once(root / name, lambda path: surgeon(source, path), SurgeryResult)

    return get

