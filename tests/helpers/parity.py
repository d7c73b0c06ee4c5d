"""Parity assertions shared by the stage tests and the detectron2 oracle: detections matched by class and box
IoU (near-tied scores may come out in another order, so never by rank), then their masks or keypoints compared."""
import numpy as np


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


def assert_keypoint_parity(eager, dets, where: str) -> int:
    """Each eager detection matched to the same-class detection of highest box IoU (not by rank: near-tied
    scores may be ordered otherwise); its keypoints within 1 px and their scores within 1e-3 or 1e-4 of their
    value (detectron2's scores reach ~50 where bicubic overshoots its 56x56 grid; float32 holds 7 digits)."""
    assert len(dets) == len(eager.scores), f"{where}: {len(dets)} detections, eager has {len(eager.scores)}"
    free = set(range(len(dets)))
    for i in np.argsort(-eager.scores):
        j = max((j for j in free if dets.classes[j] == eager.classes[i]),
                key=lambda j: box_iou(eager.boxes[i], dets.boxes[j]))
        free.remove(j)
        assert box_iou(eager.boxes[i], dets.boxes[j]) >= 0.99, f"{where}: box of detection {i}"
        shift = np.abs(dets.keypoints[j, :, :2] - eager.keypoints[i, :, :2]).max()
        assert shift <= 1.0, f"{where}: detection {i}'s keypoints are {shift:.2f} px from eager's"
        np.testing.assert_allclose(dets.keypoint_scores[j], eager.keypoint_scores[i], atol=1e-3, rtol=1e-4,
                                   err_msg=f"{where}: keypoint scores of detection {i}")
    return len(eager.scores)
