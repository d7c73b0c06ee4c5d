import json
import os
import threading

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mrcnn_edge.errors import UserError
from mrcnn_edge.runtime.latency import STAGES
from mrcnn_edge.runtime.run import run_stream
from mrcnn_edge.runtime.sources import Source


def _read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def _assert_rows_match(rows, predictor, frames):
    """JSONL rows hold exactly what the predictor returns on the same frames."""
    assert len(rows) == len(frames)
    for row, frame in zip(rows, frames):
        expected = predictor(frame)
        assert len(row["detections"]) == len(expected)
        for det, box, score, cls, mask in zip(row["detections"], expected.boxes, expected.scores,
                                              expected.classes, expected.masks):
            np.testing.assert_allclose(det["box"], box, atol=0.01)
            assert det["score"] == pytest.approx(float(score), abs=1e-5) and det["class_id"] == int(cls)
            np.testing.assert_array_equal(mask_utils.decode(det["mask"]).astype(bool), mask)


def _assert_report_consistent(report, frames):
    assert report["frames_processed"] == frames and report["error"] is None
    stage_p50 = sum(report["stages_ms"][s]["p50"] for s in STAGES)
    stage_mean = sum(report["stages_ms"][s]["mean"] for s in STAGES)
    assert stage_mean <= report["end_to_end_ms"]["mean"]  # per frame, stages sum to at most end to end
    assert stage_p50 <= report["end_to_end_ms"]["max"]
    for stats in [report["end_to_end_ms"], *report["stages_ms"].values()]:
        assert stats["min"] <= stats["p50"] <= stats["p90"] <= stats["p99"] <= stats["max"]
    assert report["fps"] == pytest.approx(frames / report["wall_s"])
    assert report["speedup_vs_baseline_fps"] == pytest.approx(report["fps"] / 5)


def test_run_on_a_video_processes_every_frame(tmp_path, small_video, stand_in):
    path, decoded = small_video
    out, jsonl = tmp_path / "out.mp4", tmp_path / "dets.jsonl"
    result = run_stream(stand_in, path, out=str(out), jsonl=str(jsonl), report_dir=str(tmp_path / "rep"),
                        live_line=False)
    assert result.frames_processed == len(decoded) and result.frames_dropped == 0
    _assert_rows_match(_read_jsonl(jsonl), stand_in, decoded)
    assert [r["frame"] for r in _read_jsonl(jsonl)] == list(range(len(decoded)))
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(decoded)
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (128, 128)
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    _assert_report_consistent(report, len(decoded))
    assert report["frames_dropped"] == 0 and report["backend"] == "stand-in"
    assert os.path.getsize(tmp_path / "rep" / "latency.png") > 10_000


def test_run_on_an_image_folder_writes_coco_results(tmp_path, image_folder, stand_in):
    folder, images = image_folder
    result = run_stream(stand_in, folder, jsonl=str(tmp_path / "d.jsonl"), coco=str(tmp_path / "coco.json"),
                        live_line=False)
    assert result.frames_processed == len(images)
    rows = _read_jsonl(tmp_path / "d.jsonl")
    _assert_rows_match(rows, stand_in, images)
    coco = json.loads((tmp_path / "coco.json").read_text())
    assert sorted({r["image_id"] for r in coco}) == list(range(7, 7 + len(images)))  # ids from the file names
    first = coco[0]
    x1, y1, x2, y2 = rows[0]["detections"][0]["box"]
    assert first["bbox"] == pytest.approx([x1, y1, x2 - x1, y2 - y1])


def test_max_frames_stops_early(small_video, stand_in):
    assert run_stream(stand_in, small_video[0], max_frames=5, live_line=False).frames_processed == 5


def test_capture_overlaps_inference(tmp_path, small_video, make_stand_in):
    """With a slow model, decoding hides behind inference: the loop hardly waits for frames."""

    slow = make_stand_in(infer_s=0.03)
    run_stream(slow, small_video[0], report_dir=str(tmp_path), live_line=False)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["stages_ms"]["capture_wait"]["p50"] < 0.2 * report["stages_ms"]["infer"]["p50"]
    assert report["fps"] > 0.7 * 1000 / report["end_to_end_ms"]["p50"]


def test_source_failing_mid_stream_leaves_valid_outputs(tmp_path, small_video, stand_in):
    """A live source that stops delivering: one-line error, and video, JSONL and report hold the frames done."""
    _, decoded = small_video
    frames, gate = iter(decoded[:6]), threading.Event()

    def reader():
        frame = next(frames, None)
        if frame is None:
            gate.wait(10)  # stalls without closing
            return None
        return frame, ""

    camera = Source(reader, "fake camera", live=True, stall_timeout_s=0.3)
    out, jsonl, rep = tmp_path / "o.mp4", tmp_path / "d.jsonl", tmp_path / "rep"
    with pytest.raises(UserError, match="delivered no frame"):
        run_stream(stand_in, camera, out=str(out), jsonl=str(jsonl), report_dir=str(rep), live_line=False)
    gate.set()
    rows = _read_jsonl(jsonl)
    report = json.loads((rep / "report.json").read_text())
    assert rows[-1]["frame"] == 5 and len(rows) + report["frames_dropped"] == 6  # live: the oldest may drop
    assert report["frames_processed"] == len(rows) and "delivered no frame" in report["error"]
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(rows) and cap.read()[0]


def test_truncated_video_flushes_outputs_before_the_error(tmp_path, truncated_avi, stand_in):
    out, jsonl, rep = tmp_path / "o.mp4", tmp_path / "d.jsonl", tmp_path / "rep"
    with pytest.raises(UserError, match="truncated or corrupt"):
        run_stream(stand_in, truncated_avi, out=str(out), jsonl=str(jsonl), report_dir=str(rep), live_line=False)
    done = len(_read_jsonl(jsonl))
    assert 0 < done < 24
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == done
    assert json.loads((rep / "report.json").read_text())["frames_processed"] == done


def test_truncated_mp4_is_refused(tmp_path, small_video, stand_in):
    data = open(small_video[0], "rb").read()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])  # mp4's index is at the end: it cannot open
    with pytest.raises(UserError, match="corrupt, truncated or not a video"):
        run_stream(stand_in, str(tmp_path / "cut.mp4"), live_line=False)


@pytest.mark.parametrize("model, message", [
    ("missing.onnx", "model not found"),
    ("model.engine", "TensorRT"),
    ("model.pt", "unsupported model file"),
])
def test_bad_model_paths(tmp_path, model, message):
    path = tmp_path / model
    if model != "missing.onnx":
        path.write_bytes(b"\0" * 16)
    with pytest.raises(UserError, match=message):
        run_stream(str(path), "0", live_line=False)


def test_show_without_a_display_is_a_clear_error(small_video, stand_in, monkeypatch, tmp_path):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(UserError, match="--show needs a display"):
        run_stream(stand_in, small_video[0], show=True, jsonl=str(tmp_path / "d.jsonl"), live_line=False)
    assert (tmp_path / "d.jsonl").exists() is False  # the window is checked before any output opens
