"""Draw detections on a frame: masks blended in per-class colours (per-track colours when tracked), contours,
skeletons (one colour per limb), boxes, labels, fps."""
from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from ..model.class_names import UNUSED


class DrawnDetections(Protocol):
    """What drawing reads of a frame's detections (runtime/detections.Detections, whose `draw` calls this
    module): a protocol of its own, so that this module imports nothing of its caller."""
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    masks: np.ndarray | None
    keypoints: np.ndarray | None
    keypoint_scores: np.ndarray | None
    limbs: list[tuple[int, int]]
    track_ids: np.ndarray | None

    def mask_rects(self) -> list[tuple[int, int, int, int]]: ...

    def names(self) -> list[str]: ...

# Distinct, saturated colours (RGB) that stay readable under white label text; class c uses [c-1 mod n].
PALETTE = np.array([
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128), (170, 110, 40),
], np.uint8)
MASK_ALPHA = 0.45
# A keypoint is drawn where its heatmap logit is above this: torchvision's Keypoint R-CNN scores a
# visible joint well above 0, and detectron2 hides joints below a probability of 0.05 likewise.
KEYPOINT_THRESHOLD = 0.0
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def class_color(class_id: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in PALETTE[(class_id - 1) % len(PALETTE)])


def track_color(track_id: int) -> tuple[int, int, int]:
    """A track's own colour, the same on every frame. Consecutive ids step 3 through the palette (3 is prime to
    its 10), so objects seen one after another, often side by side, differ more than neighbours' colours do."""
    return tuple(int(v) for v in PALETTE[(track_id * 3) % len(PALETTE)]) if track_id >= 0 else (128, 128, 128)


def _colors(dets: DrawnDetections) -> list[tuple[int, int, int]]:
    """Each detection's colour: its track's where the detections are tracked, else its class's."""
    if dets.track_ids is not None:
        return [track_color(int(t)) for t in dets.track_ids]
    return [class_color(int(c)) for c in dets.classes]


def _labels(dets: DrawnDetections, names: list[str]) -> list[str]:
    """`class score`, or `#id class score` where tracked (`#-` for a detection no track took)."""
    labels = [f"{name} {score:.2f}" for name, score in zip(names, dets.scores)]
    if dets.track_ids is None:
        return labels
    return [f"#{t if t >= 0 else '-'} {label}" for t, label in zip(dets.track_ids, labels)]


def annotate(image_rgb: np.ndarray, dets: DrawnDetections, fps: float | None = None) -> np.ndarray:
    """A copy of the RGB frame with the detections drawn; the lowest score is drawn first, so the
    most confident detection's mask, contour and label end up on top."""
    names = dets.names()
    # ascending; a class of an unused slot (COCO's "N/A") has no meaning to show
    order = [i for i in np.argsort(dets.scores, kind="stable") if names[i] != UNUSED]
    rects, colors, labels = dets.mask_rects(), _colors(dets), _labels(dets, names)
    out = _blend_masks(image_rgb, dets, order, rects, colors)
    scale = _text_scale(out)
    for i in order:
        if dets.masks is not None:
            _draw_contour(out, dets.masks[i], rects[i], colors[i], scale)
        if dets.keypoints is not None:
            _draw_skeleton(out, dets.keypoints[i], dets.keypoint_scores[i], dets.limbs, scale)
    taken: list[tuple[int, int, int, int]] = []  # label boxes placed so far (x, y, w, h)
    if fps is not None:  # first, so no label hides under the counter
        taken.append(_draw_text_box(out, f"{fps:.1f} fps", (6, 6), (0, 0, 0), scale * 1.2))
    for i in order[::-1]:  # labels placed most confident first, so they get the best spots
        x1, y1, x2, y2 = (int(round(v)) for v in dets.boxes[i])
        cv2.rectangle(out, (x1, y1), (x2, y2), colors[i], max(1, round(2 * scale)), cv2.LINE_AA)
        _draw_label(out, labels[i], (x1, y1, x2, y2), colors[i], scale, taken)
    return out


def _blend_masks(image_rgb: np.ndarray, dets: DrawnDetections, order, rects, colors) -> np.ndarray:
    """Masks blended in: each pixel takes the colour of the most confident mask covering it (masks are
    painted in ascending score). Only the rectangle around all masks is touched; outside the masks the
    overlay equals the frame, so the blend leaves those pixels as they were."""
    out = image_rgb.copy()
    drawn = [r for r in rects if r[2]]
    if not drawn:
        return out
    x0, y0 = min(r[0] for r in drawn), min(r[1] for r in drawn)
    x1, y1 = max(r[0] + r[2] for r in drawn), max(r[1] + r[3] for r in drawn)
    window = out[y0:y1, x0:x1]
    overlay = window.copy()
    for i in order:
        x, y, w, h = rects[i]
        overlay[y - y0:y - y0 + h, x - x0:x - x0 + w][dets.masks[i, y:y + h, x:x + w]] = colors[i]
    cv2.addWeighted(overlay, MASK_ALPHA, window, 1 - MASK_ALPHA, 0, dst=window)
    return out


def _draw_skeleton(out: np.ndarray, points: np.ndarray, scores: np.ndarray, limbs, scale: float) -> None:
    """Limbs in their own colours (limb k takes PALETTE[k]), between joints both above KEYPOINT_THRESHOLD;
    the joints as dots on top."""
    shown = scores > KEYPOINT_THRESHOLD
    xy = [tuple(int(round(v)) for v in p[:2]) for p in points]
    thickness = max(2, round(3 * scale))
    for k, (a, b) in enumerate(limbs):
        if shown[a] and shown[b]:
            color = tuple(int(v) for v in PALETTE[k % len(PALETTE)])
            cv2.line(out, xy[a], xy[b], color, thickness, cv2.LINE_AA)
    for j in np.flatnonzero(shown):
        cv2.circle(out, xy[j], thickness + 1, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(out, xy[j], thickness + 1, (0, 0, 0), 1, cv2.LINE_AA)


def _draw_contour(out: np.ndarray, mask: np.ndarray, rect, color, scale: float) -> None:
    x, y, w, h = rect
    if not w:
        return
    crop = mask[y:y + h, x:x + w].astype(np.uint8)  # contours of the crop only: far cheaper
    contours, _ = cv2.findContours(crop, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE, offset=(x, y))
    cv2.drawContours(out, contours, -1, color, max(1, round(2 * scale)), cv2.LINE_AA)


def _text_scale(image: np.ndarray) -> float:
    """Text scale that stays legible from 320 px to 4K: 0.55 at 512 px on the short side."""
    return max(0.45, min(image.shape[:2]) / 930)


def _draw_label(out, text, box, color, scale, taken) -> None:
    """Label above the box (inside it when there is no room), moved down past labels already placed."""
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, 1)
    w, h = tw + 6, th + base + 4
    x1, y1, _, y2 = box
    x = int(np.clip(x1, 0, max(0, out.shape[1] - w)))
    y = y1 - h if y1 - h >= 0 else y1
    for _ in range(len(taken)):
        clash = next((t for t in taken if x < t[0] + t[2] and t[0] < x + w and y < t[1] + t[3] and t[1] < y + h), None)
        if clash is None:
            break
        y = clash[1] + clash[3]
    y = int(np.clip(y, 0, max(0, out.shape[0] - h)))
    taken.append(_draw_text_box(out, text, (x, y), color, scale))


def _draw_text_box(out, text, origin, background, scale) -> tuple[int, int, int, int]:
    """Text on a filled box, black or white, whichever contrasts more with the box. Returns (x, y, w, h)."""
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, 1)
    x, y = origin
    w, h = tw + 6, th + base + 4
    cv2.rectangle(out, (x, y), (x + w, y + h), background, -1)
    luma = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2]
    ink = (0, 0, 0) if luma > 150 else (255, 255, 255)
    cv2.putText(out, text, (x + 3, y + th + 2), _FONT, scale, ink, max(1, round(scale * 1.6)), cv2.LINE_AA)
    return x, y, w, h
