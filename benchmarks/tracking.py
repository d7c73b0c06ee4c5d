"""The tracking table: on generated videos with known identities (data/video_truth.py), HOTA, IDF1, MOTA and ID
switches of `run --track`, of the library's ByteTrack on boxes with its defaults, and of no tracking (a fresh id
per detection); then the tracker's own cost per frame at 10, 50 and 100 detections.

The shipped model runs once per video (ONNX Runtime, 320x320, the frames decoded from the mp4 as `run` reads them),
keeping every detection down to tracking.LOW_SCORE; all three take those same detections:
- `--track`: runtime/tracking.Tracker at the run's default threshold (0.5), as `run --track` does;
- library defaults: supervision's `ByteTrack()` and `update_with_detections`, fed what a run draws (score >= 0.5),
  as a user's own loop would;
- none: every detection at >= 0.5 its own id.
Writes benchmarks/results/tracking.{json,md} with the CPU's ISA and the load average.

    PYTHONPATH=. python benchmarks/tracking.py --frames 90
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings

import cv2
import numpy as np

from mrcnn_edge.data.video_truth import SCENES, make_truth_video
from mrcnn_edge.eval.track import evaluate_tracks
from mrcnn_edge.runtime import SCORE_THRESHOLD
from mrcnn_edge.runtime.detections import Detections
from mrcnn_edge.runtime.sinks import mot_line
from mrcnn_edge.runtime.stream_bench import cpu_isa
from mrcnn_edge.runtime.tracking import LOW_SCORE, Tracker

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
METHODS = ("--track", "library ByteTrack (defaults)", "none (an id per detection)")


def _library_tracker():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import supervision as sv

        return sv, sv.ByteTrack()


def detections_of(video: str, predictor) -> list[Detections]:
    cap = cv2.VideoCapture(video)
    out = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(predictor(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    cap.release()
    return out


def track_rows(method: str, frames: list[Detections]) -> list[str]:
    """MOTChallenge rows of one method over a video's detections."""
    lines = []
    if method == METHODS[0]:
        tracker = Tracker(SCORE_THRESHOLD)
        for t, dets in enumerate(frames):
            out = tracker.update(dets, t)
            lines += [mot_line(t + 1, int(i), b, float(s)) for b, s, i in zip(out.boxes, out.scores, out.track_ids)
                      if i >= 0]
    elif method == METHODS[1]:
        sv, tracker = _library_tracker()
        for t, dets in enumerate(frames):
            keep = dets.scores >= SCORE_THRESHOLD
            out = tracker.update_with_detections(sv.Detections(xyxy=dets.boxes[keep].astype(np.float32),
                                                               confidence=dets.scores[keep],
                                                               class_id=dets.classes[keep]))
            lines += [mot_line(t + 1, int(i), b, float(s)) for b, s, i in zip(out.xyxy, out.confidence, out.tracker_id)]
    else:
        next_id = 1
        for t, dets in enumerate(frames):
            for b, s in zip(dets.boxes, dets.scores):
                if s >= SCORE_THRESHOLD:
                    lines.append(mot_line(t + 1, next_id, b, float(s)))
                    next_id += 1
    return lines


def accuracy(folder: str, num_frames: int) -> list[dict]:
    from mrcnn_edge.export.onnx_export import export_onnx
    from mrcnn_edge.model.zoo import default_checkpoint
    from mrcnn_edge.runtime.predictor import Predictor

    model = os.path.join(folder, "model_320.onnx")
    if not os.path.isfile(model):
        export_onnx(default_checkpoint("masks"), model, (320, 320), progress=False)
    predictor = Predictor.from_path(model, score_threshold=LOW_SCORE, backend="onnxruntime")
    rows = []
    for scene in SCENES:
        seq = os.path.join(folder, scene)
        frames = detections_of(make_truth_video(seq, scene, num_frames, 320, 320), predictor)
        for method in METHODS:
            pred = os.path.join(seq, f"{METHODS.index(method)}.txt")
            with open(pred, "w") as f:
                f.writelines(track_rows(method, frames))
            m = evaluate_tracks(os.path.join(seq, "gt", "gt.txt"), pred)
            rows.append({"video": scene, "method": method, "pred_ids": m["pred_ids"], "gt_ids": m["gt_ids"],
                         **{k: m["boxes"][k] for k in ("HOTA", "DetA", "AssA", "IDF1", "MOTA", "IDSW")}})
            print(rows[-1])
    return rows


def _moving_boxes(n: int, frames: int, rng) -> list[Detections]:
    """n objects drifting for `frames` frames, 1..3 px a frame, scores spread over 0.1..1 (both associations)."""
    xy = rng.uniform(0, 1800, (n, 2))
    v = rng.uniform(-3, 3, (n, 2))
    size = rng.uniform(20, 80, (n, 2))
    scores = np.sort(rng.uniform(0.1, 1.0, n))[::-1].astype(np.float32)
    out = []
    for t in range(frames):
        p = xy + v * t
        boxes = np.concatenate([p, p + size], 1).astype(np.float32)
        out.append(Detections(boxes, scores, np.ones(n, np.int32), None, ["object"]))
    return out


def cost(counts=(10, 50, 100), frames: int = 300) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for n in counts:
        stream = _moving_boxes(n, frames, rng)
        tracker = Tracker(SCORE_THRESHOLD)
        times = []
        for t, dets in enumerate(stream):
            start = time.perf_counter()
            tracker.update(dets, t)
            times.append((time.perf_counter() - start) * 1000)
        times = np.array(times[20:])  # past the start, when every track is born
        rows.append({"detections": n, "p50_ms": float(np.median(times)), "p99_ms": float(np.percentile(times, 99))})
        print(rows[-1])
    return rows


def write(rows: list[dict], costs: list[dict], num_frames: int) -> None:
    isa, load = cpu_isa(), os.getloadavg()
    report = {"frames_per_video": num_frames, "size": [320, 320], "backend": "onnxruntime", "isa": isa,
              "cores": os.cpu_count(), "load_average": load[:3], "accuracy": rows, "tracker_cost": costs}
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "tracking.json"), "w") as f:
        json.dump(report, f, indent=1)
    lines = ["# Identities across frames: `run --track` against the library's ByteTrack and no tracking", "",
             f"Made by `benchmarks/tracking.py`: {len(SCENES)} generated videos (data/video_truth.py) of {num_frames} "
             "frames at 320x320, the shipped model on ONNX Runtime, metrics on boxes by `eval-track` (TrackEval). "
             "All three methods take the same detections of each video.", "",
             "| video | method | HOTA | DetA | AssA | IDF1 | MOTA | ID switches | ids (truth) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['video']} | {r['method']} | {100 * r['HOTA']:.1f} | {100 * r['DetA']:.1f} | "
                     f"{100 * r['AssA']:.1f} | {100 * r['IDF1']:.1f} | {100 * r['MOTA']:.1f} | {r['IDSW']} | "
                     f"{r['pred_ids']} ({r['gt_ids']}) |")
    lines += ["", f"## The tracker's cost per frame (runtime/tracking.Tracker; CPU: {os.cpu_count()} cores, ISA "
              f"{', '.join(isa)}; load average {load[0]:.1f} while measured)", "",
              "| detections a frame | p50 ms | p99 ms |", "|---|---|---|"]
    lines += [f"| {c['detections']} | {c['p50_ms']:.2f} | {c['p99_ms']:.2f} |" for c in costs]
    with open(os.path.join(RESULTS, "tracking.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=90, help="frames per video")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "mrcnn_edge_tracking"))
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    write(accuracy(args.work, args.frames), cost(), args.frames)


if __name__ == "__main__":
    main()
