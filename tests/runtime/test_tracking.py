"""runtime/tracking.Tracker on scripted detections (the ground truth is known by construction), and `run --track`
end to end on a generated video through ONNX Runtime with the shipped model."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mrcnn_edge.runtime.detections import Detections
from mrcnn_edge.runtime.tracking import LOW_SCORE, Tracker


def _dets(rows):
    """rows: (x1, y1, x2, y2, score) -> Detections sorted by score, as a predictor returns them."""
    rows = sorted(rows, key=lambda r: -r[4])
    boxes = np.array([r[:4] for r in rows], np.float32).reshape(-1, 4)
    scores = np.array([r[4] for r in rows], np.float32)
    return Detections(boxes, scores, np.ones(len(rows), np.int32), None, ["circle"])


def _id_at(out, x1):
    """The id of the returned detection whose box starts at x1 (each scripted object has its own x)."""
    hits = [int(t) for b, t in zip(out.boxes, out.track_ids) if abs(b[0] - x1) < 0.5]
    assert len(hits) == 1, (x1, out.boxes)
    return hits[0]


def _box_iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h)


def test_id_survives_a_ten_frame_occlusion_and_crossing_objects_keep_theirs():
    """Three objects of one class and size. A and B cross head on (B, behind A, is scored low while A covers
    more than a third of it, as a detector scores a half-hidden object); C vanishes for 10 frames behind
    nothing the detector sees, and comes back on its path."""
    tracker = Tracker()
    first, last = {}, {}
    for f in range(70):
        ax, bx, cx = 20 + 4 * f, 260 - 4 * f, 10 + 3 * f
        a, b = (ax, 100, ax + 40, 140), (bx, 110, bx + 40, 150)
        rows = [(*a, 0.9), (*b, 0.3 if _box_iou(a, b) > 0.3 else 0.85)]
        if not 30 <= f < 40:  # C is hidden on frames 30..39
            rows.append((cx, 200, cx + 30, 230, 0.8))
        out = tracker.update(_dets(rows), f)
        ids = {"A": _id_at(out, ax)}
        if rows[1][4] >= 0.5:
            ids["B"] = _id_at(out, bx)
        if not 30 <= f < 40:
            ids["C"] = _id_at(out, cx)
        for name, track_id in ids.items():
            first.setdefault(name, track_id)
            last[name] = track_id
        assert len(set(ids.values())) == len(ids)
    assert first == last and len(set(first.values())) == 3
    assert tracker.update(_dets([]), 70).track_ids.shape == (0,)


def test_low_score_detections_carry_a_track_through_a_turn_but_are_not_returned():
    """ByteTrack's second association: half hidden (scored 0.3, under the 0.5 drawn), the object turns from
    moving right to moving down. Its low-score detections keep the track on it, so the id is the same when it
    shows again; a tracker that saw only the drawn detections would coast straight on and lose it. Below
    LOW_SCORE a detection is ignored altogether."""
    tracker = Tracker(score_threshold=0.5)
    x, y = 10.0, 10.0
    for f in range(25):
        hidden = 10 <= f < 20
        if hidden:
            y += 4
        else:
            x += 4
        rows = [(x, y, x + 40, y + 40, 0.3 if hidden else 0.9), (200, 200, 230, 230, LOW_SCORE / 2)]
        out = tracker.update(_dets(rows), f)
        assert len(out) == (0 if hidden else 1)
        if f == 9:
            before = out.track_ids[0]
    assert out.track_ids.tolist() == [before]


def test_every_returned_detection_has_an_id_from_its_first_frame():
    """ByteTrack confirms a new track on its second frame; the tracker still names it on its first."""
    tracker = Tracker()
    tracker.update(_dets([(10, 10, 50, 50, 0.9)]), 0)
    out = tracker.update(_dets([(12, 10, 52, 50, 0.9), (100, 100, 140, 140, 0.6)]), 1)
    assert sorted(out.track_ids.tolist()) == [1, 2]
    out = tracker.update(_dets([(14, 10, 54, 50, 0.9), (102, 100, 142, 140, 0.6)]), 2)
    assert _id_at(out, 14) == 1 and _id_at(out, 102) == 2


@pytest.mark.parametrize("gap, same_id", [(8, True), (60, False)])
def test_dropped_frames_are_a_gap_in_time(gap, same_id):
    """A jump in the frame index predicts the tracks through the missed frames: the object, moving on meanwhile,
    is found where it went (a reset, or a tracker blind to the gap, would look where it was); a gap past the
    lost buffer (30 frames) has ended the track."""
    tracker = Tracker()
    for f in range(10):
        first = tracker.update(_dets([(5 * f, 50, 5 * f + 30, 80, 0.9)]), f)
    f = 9 + gap
    out = tracker.update(_dets([(5 * f, 50, 5 * f + 30, 80, 0.9)]), f)
    assert (out.track_ids[0] == first.track_ids[0]) == same_id


def test_one_tracker_per_stream_and_reset():
    one, two = Tracker(), Tracker()
    assert one.update(_dets([(0, 0, 10, 10, 0.9)]), 0).track_ids.tolist() == [1]
    assert two.update(_dets([(50, 50, 60, 60, 0.9)]), 0).track_ids.tolist() == [1]
    one.reset()
    assert one.update(_dets([(80, 80, 90, 90, 0.9)]), 0).track_ids.tolist() == [1]


# --- end to end: `run --track` through ONNX Runtime, then eval-track -------------------------------------------

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "mrcnn_edge.cli", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def crossing_video(tmp_path_factory):
    from mrcnn_edge.data.video_truth import make_truth_video

    folder = tmp_path_factory.mktemp("crossing")
    return make_truth_video(str(folder), "crossing", num_frames=40, height=320, width=320), str(folder)


def test_run_track_writes_ids_to_jsonl_and_mot_and_eval_track_reads_them(tmp_path, exported_model, crossing_video):
    model = exported_model("shipped", (320, 320))
    video, folder = crossing_video
    jsonl, mot, out = tmp_path / "det.jsonl", tmp_path / "tracks.txt", tmp_path / "annotated.mp4"
    proc = _cli("run", "--model", model, "--backend", "onnxruntime", "--source", video, "--track", "--jsonl",
                str(jsonl), "--mot", str(mot), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(rows) == 40
    dets = [(r["frame"], d) for r in rows for d in r["detections"]]
    assert dets and all(isinstance(d["track_id"], int) and d["track_id"] >= 1 and d["score"] >= 0.5 for _, d in dets)
    # the MOT file holds the same detections: frames 1-based, box x,y,w,h, score, three -1
    mot_rows = [line.split(",") for line in mot.read_text().splitlines()]
    assert all(len(r) == 10 and r[7:] == ["-1", "-1", "-1"] for r in mot_rows)
    from_jsonl = sorted((f + 1, d["track_id"], round(d["box"][0], 2), round(d["box"][2] - d["box"][0], 2))
                        for f, d in dets)
    from_mot = sorted((int(r[0]), int(r[1]), float(r[2]), float(r[4])) for r in mot_rows)
    assert len(from_mot) == len(from_jsonl)
    assert all(a[:2] == b[:2] and abs(a[2] - b[2]) < 0.011 and abs(a[3] - b[3]) < 0.011
               for a, b in zip(from_jsonl, from_mot))
    # ids persist: far fewer ids than detections (a fresh id per detection would make them equal)
    assert len({d["track_id"] for _, d in dets}) < len(dets) / 4
    for pred in (jsonl, mot):
        gt = os.path.join(folder, "gt", "gt_mots.txt")
        proc = _cli("eval-track", "--gt", gt, "--pred", str(pred), "--json", str(tmp_path / "m.json"))
        assert proc.returncode == 0, proc.stderr
        result = json.loads((tmp_path / "m.json").read_text())
        assert ("masks" in result) == (pred == jsonl)
        assert result["frames"] == 40 and result["boxes"]["HOTA"] > 0.3, result["boxes"]


def test_without_track_rows_carry_no_track_id_and_mot_needs_track(tmp_path, exported_model, crossing_video):
    model = exported_model("shipped", (320, 320))
    jsonl = tmp_path / "det.jsonl"
    proc = _cli("run", "--model", model, "--backend", "onnxruntime", "--source", crossing_video[0], "--jsonl",
                str(jsonl), "--max-frames", "3")
    assert proc.returncode == 0, proc.stderr
    assert not any("track_id" in d for line in jsonl.read_text().splitlines() for d in json.loads(line)["detections"])
    proc = _cli("run", "--model", model, "--source", crossing_video[0], "--mot", str(tmp_path / "t.txt"))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "add --track" in lines[0], proc.stderr


def test_many_streams_each_get_their_own_tracker(tmp_path, exported_model, crossing_video):
    from mrcnn_edge.runtime.multistream import run_sources

    model = exported_model("shipped", (320, 320))
    video = crossing_video[0]
    result = run_sources(model, [video, video], out_dir=str(tmp_path), track=True, max_frames=12, live_line=False,
                         backend="onnxruntime")
    tracks = []
    for stream in result.streams:
        lines = open(stream["outputs"]["mot"]).read().splitlines()
        tracks.append([line.split(",")[:2] for line in lines])
    # the same video in both: the same ids from 1 in each (one shared tracker would give the second new ids)
    assert tracks[0] and tracks[0] == tracks[1]
