"""`mrcnn-edge eval-track`: HOTA (Luiten et al., IJCV 2021), MOTA (CLEAR MOT, Bernardin & Stiefelhagen 2008),
IDF1 (Ristani et al., 2016) and ID switches of tracks against ground truth, computed by TrackEval's own metric
classes.

Inputs, either side: MOTChallenge text (`frame,id,left,top,width,height,score|active,...`, frames 1-based),
MOTS text (`frame id class height width rle`), or our JSONL (`run --track --jsonl`, frames 0-based). TrackEval's
dataset readers want a benchmark's folder layout and keep only its pedestrian class, so this module reads the
files itself and hands TrackEval's metrics what its readers would: per frame, the ids on each side
(renumbered 0..n-1) and their similarity, box IoU (TrackEval's `_calculate_box_ious`) or, where both sides have
masks, mask IoU (its `_calculate_mask_ious`, as its MOTS reader does): HOTA on masks, as MOTS evaluates.
tests/eval/test_eval_track.py checks that this gives TrackEval's own MOTChallenge pipeline's numbers.
"""
from __future__ import annotations

import configparser
import json
import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError

MOTS_IGNORE_CLASS = 10  # MOTS text's ignore regions: not objects (not evaluated here)
# What the summary shows, per similarity: TrackEval's field names
SUMMARY_FIELDS = ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW")


@dataclass
class Tracks:
    """One file's tracks: per frame (1-based), ids, boxes (left, top, width, height) and masks (COCO RLE dicts,
    or None when the file has none)."""
    path: str
    frames: dict[int, dict] = field(default_factory=dict)  # frame -> {"ids": [], "boxes": [], "masks": []}
    has_masks: bool = False

    def add(self, frame: int, track_id: int, box, mask, line: int) -> None:
        rows = self.frames.setdefault(frame, {"ids": [], "boxes": [], "masks": []})
        if track_id in rows["ids"]:
            raise UserError(f"{self.path} line {line}: track id {track_id} twice in frame {frame}; an id names "
                            "one object per frame: fix the writer, or pass the file `run --mot` wrote")
        rows["ids"].append(track_id)
        rows["boxes"].append(box)
        rows["masks"].append(mask)

    @property
    def last_frame(self) -> int:
        return max(self.frames, default=0)


def read_tracks(path: str, role: str, ground_truth: bool = False) -> Tracks:
    """A tracks file in any of the three formats (told apart by its extension or its first line)."""
    if not os.path.isfile(path):
        raise UserError(f"{role} file not found: {path} (pass a MOTChallenge .txt, a MOTS .txt, or the JSONL "
                        "of `run --track --jsonl`)")
    with open(path) as f:
        lines = f.read().splitlines()
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise UserError(f"{role} file {path} is empty: it holds no tracks (was the run stopped before its "
                        "first frame?)")
    if path.endswith((".jsonl", ".json")) or first.lstrip().startswith("{"):
        tracks = _read_jsonl(path, lines)
    elif "," in first:
        tracks = _read_mot(path, lines, ground_truth)
    else:
        tracks = _read_mots(path, lines)
    if ground_truth and not tracks.frames:
        raise UserError(f"{role} file {path} has no object to evaluate (every row is marked ignore)")
    return tracks


def _bad_line(path: str, number: int, what: str) -> UserError:
    return UserError(f"{path} line {number}: {what}; the file looks truncated or is not in that format: "
                     "write it again (`run --track --mot`, or the video's gt/ folder)")


def _read_mot(path: str, lines: list[str], ground_truth: bool) -> Tracks:
    """MOTChallenge text. In ground truth, column 7 is 'active': rows with 0 are not evaluated (MOTChallenge's
    rule); in results it is the score, and every row counts."""
    tracks = Tracks(path)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split(",")
        try:
            values = [float(v) for v in parts[:7]]
        except ValueError:
            raise _bad_line(path, number, f"'{line[:60]}' has a field that is not a number") from None
        if len(parts) < 6 or (len(parts) < 7 and ground_truth):
            raise _bad_line(path, number, f"{len(parts)} fields, MOTChallenge rows have frame,id,x,y,w,h,score")
        if ground_truth and len(values) > 6 and values[6] == 0:
            continue
        tracks.add(int(values[0]), int(values[1]), values[2:6], None, number)
    return tracks


def _read_mots(path: str, lines: list[str]) -> Tracks:
    """MOTS text: frame id class height width rle (frames 1-based, as the MOTS challenge's)."""
    from pycocotools import mask as mask_utils

    tracks = Tracks(path, has_masks=True)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split(" ")
        if len(parts) != 6 or not all(p.lstrip("-").isdigit() for p in parts[:5]):
            raise _bad_line(path, number, f"{len(parts)} fields, MOTS rows have frame id class height width rle")
        frame, track_id, cls, height, width = (int(p) for p in parts[:5])
        if cls == MOTS_IGNORE_CLASS:
            continue
        rle = {"size": [height, width], "counts": parts[5]}
        try:
            box = [float(v) for v in mask_utils.toBbox(rle)]
        except Exception:
            raise _bad_line(path, number, "its RLE does not decode") from None
        tracks.add(frame, track_id, box, rle, number)
    return tracks


def _read_jsonl(path: str, lines: list[str]) -> Tracks:
    """Our JSONL (runtime/sinks.JsonlSink): frames 0-based, boxes x1,y1,x2,y2, masks COCO RLE."""
    tracks = Tracks(path, has_masks=True)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            frame, detections = int(row["frame"]) + 1, row["detections"]
        except (ValueError, KeyError, TypeError):
            raise _bad_line(path, number, "not a JSON object with frame and detections") from None
        for det in detections:
            if "track_id" not in det:
                raise UserError(f"{path} line {number}: a detection has no track_id: write the JSONL with "
                                "`run --track --jsonl`")
            x1, y1, x2, y2 = det["box"]
            tracks.has_masks &= "mask" in det
            if det["track_id"] >= 0:  # -1: a detection no track took, which MOTChallenge results leave out
                tracks.add(frame, int(det["track_id"]), [x1, y1, x2 - x1, y2 - y1], det.get("mask"), number)
    return tracks


def sequence_length(gt_path: str, gt: Tracks) -> int:
    """Frames in the ground truth's video: seqinfo.ini's seqLength where the file sits in a MOTChallenge
    sequence (SEQ/gt/gt.txt), else its last annotated frame."""
    ini = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(gt_path))), "seqinfo.ini")
    if os.path.isfile(ini):
        info = configparser.ConfigParser()
        info.read(ini)
        if info.has_option("Sequence", "seqLength"):
            return int(info["Sequence"]["seqLength"])
    return gt.last_frame


def _check_frames(pred: Tracks, length: int) -> None:
    outside = [f for f in pred.frames if not 1 <= f <= length]
    if outside:
        raise UserError(f"{pred.path} has frame {min(outside) if min(outside) < 1 else max(outside)}, outside the "
                        f"ground truth's frames 1..{length}: MOTChallenge frames are 1-based; were these tracks made "
                        "from another video?")


def sequence_data(gt: Tracks, pred: Tracks, length: int, masks: bool) -> dict:
    """What TrackEval's metrics read for one sequence (its datasets' get_preprocessed_seq_data): ids per frame
    renumbered 0..n-1, and the similarity of every ground-truth and tracker object on a frame."""
    from trackeval.datasets._base_dataset import _BaseDataset

    gt_index = {i: k for k, i in enumerate(sorted({i for r in gt.frames.values() for i in r["ids"]}))}
    pred_index = {i: k for k, i in enumerate(sorted({i for r in pred.frames.values() for i in r["ids"]}))}
    empty = {"ids": [], "boxes": [], "masks": []}
    data = {"num_timesteps": length, "num_gt_ids": len(gt_index), "num_tracker_ids": len(pred_index),
            "gt_ids": [], "tracker_ids": [], "similarity_scores": [], "num_gt_dets": 0, "num_tracker_dets": 0}
    for t in range(1, length + 1):
        g, p = gt.frames.get(t, empty), pred.frames.get(t, empty)
        data["gt_ids"].append(np.array([gt_index[i] for i in g["ids"]], int))
        data["tracker_ids"].append(np.array([pred_index[i] for i in p["ids"]], int))
        if masks:
            similarity = _BaseDataset._calculate_mask_ious(g["masks"], p["masks"], is_encoded=True)
        else:
            similarity = _BaseDataset._calculate_box_ious(np.array(g["boxes"], float).reshape(-1, 4),
                                                          np.array(p["boxes"], float).reshape(-1, 4), box_format="xywh")
        data["similarity_scores"].append(np.asarray(similarity, float).reshape(len(g["ids"]), len(p["ids"])))
        data["num_gt_dets"] += len(g["ids"])
        data["num_tracker_dets"] += len(p["ids"])
    return data


def _metrics(data: dict) -> dict:
    """TrackEval's HOTA, CLEAR and Identity on one sequence; HOTA's per-alpha arrays averaged, as TrackEval
    reports them."""
    from trackeval.metrics import CLEAR, HOTA, Identity

    out = {}
    for metric in (HOTA(), CLEAR({"PRINT_CONFIG": False}), Identity({"PRINT_CONFIG": False})):
        for name, value in metric.eval_sequence(data).items():
            value = np.asarray(value)
            out[name] = float(value.mean()) if value.ndim else (int(value) if value.dtype.kind == "i" else float(value))
    return out


def evaluate_tracks(gt_path: str, pred_path: str) -> dict:
    """{"boxes": metrics, "masks": metrics (only where both files have masks), "frames", "gt_ids", "pred_ids"}."""
    _require_trackeval()
    gt = read_tracks(gt_path, "ground truth", ground_truth=True)
    pred = read_tracks(pred_path, "tracks")
    length = sequence_length(gt_path, gt)
    _check_frames(pred, length)
    result = {"gt": gt_path, "pred": pred_path, "frames": length,
              "gt_ids": len({i for r in gt.frames.values() for i in r["ids"]}),
              "pred_ids": len({i for r in pred.frames.values() for i in r["ids"]}),
              "boxes": _metrics(sequence_data(gt, pred, length, masks=False))}
    if gt.has_masks and pred.has_masks:
        result["masks"] = _metrics(sequence_data(gt, pred, length, masks=True))
    return result


def _require_trackeval() -> None:
    try:
        import trackeval  # noqa: F401
    except ImportError:
        raise UserError("eval-track computes its metrics with TrackEval, which is not installed: "
                        "pip install --no-deps trackeval (its wheel asks for opencv-python, which would "
                        "overwrite opencv-python-headless's cv2; TrackEval's metrics need neither)") from None


def summary(result: dict) -> str:
    head = f"{result['frames']} frames, {result['gt_ids']} ground-truth ids, {result['pred_ids']} predicted ids"
    lines = [head, f"  {'':<7}" + "".join(f"{name:>8}" for name in SUMMARY_FIELDS)]
    for kind in ("boxes", "masks"):
        if kind in result:
            m = result[kind]
            lines.append(f"  {kind:<7}" + "".join(f"{m[n]:>8d}" if n == "IDSW" else f"{100 * m[n]:>8.1f}"
                                                  for n in SUMMARY_FIELDS))
    return "\n".join(lines)


def evaluate_tracks_cli(gt_path: str, pred_path: str, out_json: str | None = None) -> str:
    result = evaluate_tracks(gt_path, pred_path)
    if out_json:
        os.makedirs(os.path.dirname(os.path.abspath(out_json)), exist_ok=True)
        with open(out_json, "w") as f:
            json.dump(result, f, indent=1)
    return summary(result) + (f"\n  json   {out_json}" if out_json else "")
