"""`mrcnn-edge eval-track`: our reading of the files against TrackEval's own MOTChallenge pipeline (the oracle),
hand-counted ID switches, masks, and every bad input as one line with exit 2."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mrcnn_edge.data.video_truth import make_truth_video
from mrcnn_edge.eval.track import evaluate_tracks


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    """A generated 30-frame sequence of the crossing scene (three objects throughout) at 256x256."""
    folder = tmp_path_factory.mktemp("seqs") / "crossing"
    make_truth_video(str(folder), "crossing", num_frames=30, height=256, width=256)
    return str(folder)


def _gt_rows(sequence):
    return [line.split(",") for line in open(os.path.join(sequence, "gt", "gt.txt")).read().splitlines()]


def _perturbed(sequence, path, seed=0):
    """The ground truth as a tracker might return it: boxes jittered by up to 6 px, a tenth of the rows missed,
    ids 1 and 2 swapped from frame 15 on, and a false track. Written as `run --mot` writes (score, three -1)."""
    rng = np.random.default_rng(seed)
    lines = []
    for r in _gt_rows(sequence):
        frame, track_id = int(r[0]), int(r[1])
        if rng.random() < 0.1:
            continue
        if frame >= 15 and track_id in (1, 2):
            track_id = 3 - track_id
        x, y, w, h = (float(v) + rng.uniform(-6, 6) for v in r[2:6])
        lines.append(f"{frame},{track_id},{x:.2f},{y:.2f},{w:.2f},{h:.2f},0.9,-1,-1,-1\n")
    lines += [f"{f},99,5,5,20,20,0.6,-1,-1,-1\n" for f in range(3, 12)]
    with open(path, "w") as f:
        f.writelines(lines)
    return str(path)


def _trackeval_own(sequence, pred, tmp_path):
    """TrackEval's full MOTChallenge pipeline (its reader, its preprocessing, its evaluator) on the same files."""
    import shutil

    import trackeval

    name = os.path.basename(sequence)
    gt_root, trk_root = tmp_path / "gt", tmp_path / "trackers"
    shutil.copytree(sequence, gt_root / name)
    os.makedirs(trk_root / "ours" / "data")
    shutil.copy(pred, trk_root / "ours" / "data" / f"{name}.txt")
    dataset = trackeval.datasets.MotChallenge2DBox({
        "GT_FOLDER": str(gt_root), "TRACKERS_FOLDER": str(trk_root), "SKIP_SPLIT_FOL": True, "SEQ_INFO": {name: None},
        "TRACKERS_TO_EVAL": ["ours"], "PRINT_CONFIG": False})
    evaluator = trackeval.Evaluator({"USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_CONFIG": False,
                                     "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False, "PLOT_CURVES": False,
                                     "TIME_PROGRESS": False, "PRINT_ONLY_COMBINED": True})
    metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
               trackeval.metrics.Identity({"PRINT_CONFIG": False})]
    res, _ = evaluator.evaluate([dataset], metrics)
    return res["MotChallenge2DBox"]["ours"][name]["pedestrian"]


def test_the_same_numbers_as_trackeval_own_mot_pipeline(sequence, tmp_path):
    pred = _perturbed(sequence, tmp_path / "pred.txt")
    ours = evaluate_tracks(os.path.join(sequence, "gt", "gt.txt"), pred)["boxes"]
    theirs = _trackeval_own(sequence, pred, tmp_path)
    assert ours["IDSW"] > 0 and 0.3 < ours["HOTA"] < 0.95  # a result with something to get wrong
    assert ours["HOTA"] == pytest.approx(float(np.mean(theirs["HOTA"]["HOTA"])), abs=1e-9)
    assert ours["AssA"] == pytest.approx(float(np.mean(theirs["HOTA"]["AssA"])), abs=1e-9)
    for metric, name in (("CLEAR", "MOTA"), ("CLEAR", "IDSW"), ("CLEAR", "CLR_FP"), ("Identity", "IDF1")):
        assert ours[name] == pytest.approx(theirs[metric][name], abs=1e-9), name


def test_perfect_tracks_and_hand_counted_switches(tmp_path):
    """Two objects over 10 frames; the tracker swaps their ids at frame 6 (one switch each: IDSW 2). MOTA =
    1 - (FN + FP + IDSW) / GT = 1 - 2/20; IDF1: each id is right on 5 of its 10 frames, so IDTP = 10 of 20."""
    gt = tmp_path / "gt.txt"
    rows = [(f, i, 10 + 3 * f + 100 * (i - 1), 20, 30, 30) for f in range(1, 11) for i in (1, 2)]
    gt.write_text("".join(f"{f},{i},{x},{y},{w},{h},1,1,1\n" for f, i, x, y, w, h in rows))
    same = evaluate_tracks(str(gt), str(gt))["boxes"]
    assert (same["HOTA"], same["MOTA"], same["IDF1"], same["IDSW"]) == (1.0, 1.0, 1.0, 0)
    pred = tmp_path / "pred.txt"
    pred.write_text("".join(f"{f},{i if f < 6 else 3 - i},{x},{y},{w},{h},0.9,-1,-1,-1\n" for f, i, x, y, w, h in rows))
    swapped = evaluate_tracks(str(gt), str(pred))["boxes"]
    assert swapped["IDSW"] == 2 and swapped["MOTA"] == pytest.approx(0.9) and swapped["IDF1"] == pytest.approx(0.5)


def test_masks_are_evaluated_where_both_sides_have_them(sequence, tmp_path):
    """The MOTS ground truth against our JSONL made from it: masks give mask HOTA; a box-only file gives boxes
    only. JSONL frames are 0-based, MOTS's 1-based: a shift would show."""
    from pycocotools import mask as mask_utils

    frames = {}
    for line in open(os.path.join(sequence, "gt", "gt_mots.txt")).read().splitlines():
        f, obj, _, h, w, rle = line.split(" ")
        x, y, bw, bh = mask_utils.toBbox({"size": [int(h), int(w)], "counts": rle})
        det = {"box": [x, y, x + bw, y + bh], "score": 0.9, "class_id": 1, "class_name": "circle",
               "track_id": int(obj) % 1000, "mask": {"size": [int(h), int(w)], "counts": rle}}
        frames.setdefault(int(f) - 1, []).append(det)
    jsonl = tmp_path / "det.jsonl"
    jsonl.write_text("".join(json.dumps({"frame": f, "detections": d}) + "\n" for f, d in sorted(frames.items())))
    result = evaluate_tracks(os.path.join(sequence, "gt", "gt_mots.txt"), str(jsonl))
    assert result["masks"]["HOTA"] == pytest.approx(1.0) and result["boxes"]["HOTA"] == pytest.approx(1.0)
    assert "masks" not in evaluate_tracks(os.path.join(sequence, "gt", "gt.txt"), str(jsonl))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "mrcnn_edge.cli", "eval-track", *args], capture_output=True,
                          text=True, timeout=60)


def _bad(tmp_path, sequence, case):
    gt = os.path.join(sequence, "gt", "gt.txt")
    text = open(gt).read()
    if case == "missing":
        return gt, str(tmp_path / "nowhere.txt")
    path = tmp_path / f"{case}.txt"
    if case == "truncated":
        lines = text.splitlines(keepends=True)
        path.write_text("".join(lines[: len(lines) // 2]) + lines[len(lines) // 2][:6])  # cut inside a row
    elif case == "truncated_jsonl":
        path = tmp_path / "cut.jsonl"
        path.write_text(json.dumps({"frame": 0, "detections": []}) + "\n" + '{"frame": 1, "detec')
    elif case == "out_of_range":
        path.write_text(text + "31,1,5,5,20,20,0.9,-1,-1,-1\n")  # the video has 30 frames
    elif case == "zero_based":
        path.write_text("0,1,5,5,20,20,0.9,-1,-1,-1\n")
    elif case == "untracked_jsonl":
        path = tmp_path / "untracked.jsonl"
        path.write_text(json.dumps({"frame": 0, "detections": [{"box": [0, 0, 5, 5], "score": 0.9}]}) + "\n")
    elif case == "empty":
        path.write_text("")
    return gt, str(path)


@pytest.mark.parametrize("case, message", [
    ("missing", "tracks file not found"), ("truncated", "looks truncated"), ("truncated_jsonl", "looks truncated"),
    ("out_of_range", "outside the ground truth's frames 1..30"), ("zero_based", "frames are 1-based"),
    ("untracked_jsonl", "run --track --jsonl"), ("empty", "is empty"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, sequence, case, message):
    gt, pred = _bad(tmp_path, sequence, case)
    proc = _cli("--gt", gt, "--pred", pred)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("mrcnn-edge eval-track: error: ") and message in lines[0], lines[0]


def test_missing_ground_truth_is_named(tmp_path):
    proc = _cli("--gt", str(tmp_path / "gt.txt"), "--pred", str(tmp_path / "p.txt"))
    assert proc.returncode == 2 and "ground truth file not found" in proc.stderr
