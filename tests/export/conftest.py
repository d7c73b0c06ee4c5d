import numpy as np
import pytest
import torch

from mrcnn_edge.model.architectures import LIGHT_ARCH, build_model
from mrcnn_edge.model.checkpoint import save_checkpoint

CLASSES = ("circle", "rectangle", "triangle", "star")


@pytest.fixture(scope="session")
def light_random_checkpoint(tmp_path_factory):
    """A seeded random-init light model saved in our checkpoint format."""
    torch.manual_seed(0)
    path = str(tmp_path_factory.mktemp("ckpt") / "light_random.pth")
    save_checkpoint(path, build_model(LIGHT_ARCH, num_classes=len(CLASSES) + 1), arch=LIGHT_ARCH,
                    classes=CLASSES, input_size=(320, 320))
    return path


@pytest.fixture(scope="session")
def light_random_onnx(light_random_checkpoint, tmp_path_factory):
    from mrcnn_edge.export.onnx_export import export_onnx

    return export_onnx(light_random_checkpoint, str(tmp_path_factory.mktemp("onnx") / "light.onnx"), progress=False)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 1.0


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return np.logical_and(a, b).sum() / union if union else 1.0  # two empty masks agree


def matched_mask_iou(a, b) -> float:
    """Mean mask IoU of each detection in `a` with the best same-class detection in `b`."""
    ious = []
    for mask, cls in zip(a.masks, a.classes):
        same = [m for m, c in zip(b.masks, b.classes) if c == cls]
        ious.append(max(((mask & m).sum() / max(1, (mask | m).sum()) for m in same), default=0.0))
    return float(np.mean(ious)) if ious else 1.0


def assert_parity(eager, detections, min_score=0.05, min_box_iou=0.99, min_mask_iou=0.98, where=""):
    """Every eager detection scoring >= min_score has a counterpart of the same class with box IoU >=
    min_box_iou and mask IoU >= min_mask_iou; the counts agree. Near-tied scores may come out in another
    order, so detections are matched greedily by class and box IoU, never by rank."""
    boxes, scores, classes, masks = eager[:4]
    assert len(detections) == len(scores), f"{where}: {len(detections)} detections, eager has {len(scores)}"
    free = set(range(len(detections)))
    for i in np.argsort(-scores):
        if scores[i] < min_score:
            continue
        candidates = [j for j in free if detections.classes[j] == classes[i]]
        assert candidates, f"{where}: eager detection {i} (class {classes[i]}, score {scores[i]:.3f}) unmatched"
        j = max(candidates, key=lambda j: box_iou(boxes[i], detections.boxes[j]))
        free.remove(j)
        assert box_iou(boxes[i], detections.boxes[j]) >= min_box_iou, f"{where}: box of detection {i}"
        differ = np.logical_xor(masks[i], detections.masks[j]).sum()
        assert mask_iou(masks[i], detections.masks[j]) >= min_mask_iou, \
            f"{where}: mask of detection {i} ({differ} pixels differ)"
