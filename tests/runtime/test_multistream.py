"""Many streams, one model: three real videos (ffmpeg: other sizes, frame rates, one H.265) batched together
give each stream exactly what its own single-stream run gives; a live stream killed mid-run is one line."""
import json
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from helpers import unless_installed
from mrcnn_edge.data.synthetic import VAL
from mrcnn_edge.runtime.multistream import run_streams
from mrcnn_edge.runtime.predictor import Predictor
from mrcnn_edge.runtime.run import run_stream
from mrcnn_edge.runtime.stream_list import StreamSpec, stream_specs


pytestmark = unless_installed(shutil.which("ffmpeg") is not None,
                              reason="ffmpeg not installed (apt-get install -y ffmpeg); CI installs it")

# name -> (ffmpeg video options, width x height, frame rate): three sizes, three rates, three codecs
VIDEOS = {
    "hevc": (["-c:v", "libx265", "-x265-params", "log-level=error"], (320, 240), 15),
    "h264": (["-c:v", "libx264", "-pix_fmt", "yuv420p"], (160, 208), 25),
    "mpeg4": (["-c:v", "mpeg4", "-q:v", "3"], (256, 256), 30),
}


def _ffmpeg_video(raw, out, options, size, fps):
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", raw, "-vf", f"scale={size[0]}:{size[1]}",
                    "-r", str(fps), *options, out], check=True, timeout=120)
    return out


def _ffprobe(path):
    """The decoder's own frame count and stream facts: an oracle independent of OpenCV."""
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=codec_name,width,height,nb_read_frames", "-of", "json", path],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["streams"][0]


@pytest.fixture
def three_videos(tmp_path, make_video):
    folder = tmp_path / "videos"
    folder.mkdir()
    raw = make_video(folder / "raw.mp4", 24, size=256, seed=3)
    return {name: _ffmpeg_video(raw, str(folder / f"{name}.mp4"), options, size, fps)
            for name, (options, size, fps) in VIDEOS.items()}


def _rows(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def _assert_same_detections(got, expected):
    """Two runs' JSONL rows: same frames, counts and classes; boxes within 1e-4 px; scores within 1e-4;
    masks nearly identical (a batched GEMM rounds apart from a single one, so a pixel whose probability
    sits at 0.5 may flip)."""
    assert [r["frame"] for r in got] == [r["frame"] for r in expected]
    for a, b in zip(got, expected):
        assert (a["height"], a["width"]) == (b["height"], b["width"])
        assert [d["class_id"] for d in a["detections"]] == [d["class_id"] for d in b["detections"]], a["frame"]
        for da, db in zip(a["detections"], b["detections"]):
            np.testing.assert_allclose(da["box"], db["box"], atol=1e-4, rtol=0)
            assert abs(da["score"] - db["score"]) <= 1e-4
            ma, mb = mask_utils.decode(da["mask"]).astype(bool), mask_utils.decode(db["mask"]).astype(bool)
            assert (ma ^ mb).sum() <= max(2, 0.001 * mb.sum())


def test_three_videos_batched_equal_their_single_stream_runs(tmp_path, three_videos, exported_model):
    model = exported_model("shipped", (VAL.height, VAL.width), batch_size=None)
    for name, path in three_videos.items():  # the inputs are what they claim to be
        facts = _ffprobe(path)
        assert (facts["width"], facts["height"]) == VIDEOS[name][1]
    assert _ffprobe(three_videos["hevc"])["codec_name"] == "hevc"
    sources = tmp_path / "streams.txt"
    sources.write_text("# three cameras\n" + "".join(f"{n}: {p}\n" for n, p in three_videos.items()))
    out = tmp_path / "multi"
    proc = subprocess.run([sys.executable, "-m", "mrcnn_edge.cli", "run", "--model", model, "--sources", str(sources),
                           "--out-dir", str(out), "--batch-timeout", "50"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["batched"] and int(max(report["aggregate"]["batch_sizes"], key=int)) == 3  # really batched
    assert (out / "latency.png").stat().st_size > 10_000
    predictor = Predictor.from_path(model, score_threshold=0.5)
    detections = 0
    for row in report["streams"]:
        name = row["name"]
        frames = int(_ffprobe(three_videos[name])["nb_read_frames"])
        assert row["status"] == "finished" and row["frames_processed"] == frames and row["frames_dropped"] == 0
        assert row["end_to_end_ms"]["p50"] <= row["end_to_end_ms"]["p99"]
        single = tmp_path / f"{name}.jsonl"
        run_stream(predictor, three_videos[name], jsonl=str(single), live_line=False)
        got, expected = _rows(out / name / "detections.jsonl"), _rows(single)
        assert len(got) == frames and (out / name / "annotated.mp4").stat().st_size > 0
        _assert_same_detections(got, expected)
        detections += sum(len(r["detections"]) for r in got)
    assert detections > 3 * 24  # the comparison had something to compare
    with pytest.raises(AssertionError):  # the comparison tells streams apart: one stream against another's run
        _assert_same_detections(_rows(out / "mpeg4" / "detections.jsonl")[:20], _rows(tmp_path / "hevc.jsonl")[:20])


def test_batch_one_model_runs_frames_one_by_one_and_says_so_once(tmp_path, small_video, stand_in):
    path, decoded = small_video
    notes = []
    result = run_streams(stand_in, stream_specs([path, path, path]), out_dir=str(tmp_path), live_line=False,
                         notify=notes.append)
    assert not result.batched and set(result.batch_sizes) <= {1, 2, 3}
    assert [n for n in notes if "one by one" in n] == [notes[0]] and len(notes) == 1
    assert [s["name"] for s in result.streams] == ["shapes", "shapes-2", "shapes-3"]  # derived, made unique
    for name in ("shapes", "shapes-2", "shapes-3"):
        rows = _rows(tmp_path / name / "detections.jsonl")
        assert [r["frame"] for r in rows] == list(range(len(decoded)))
        for row, frame in zip(rows, decoded):
            np.testing.assert_allclose(row["detections"][0]["box"], stand_in(frame).boxes[0], atol=1e-4)


def test_live_stream_killed_mid_run_is_one_line_and_the_others_finish(tmp_path, small_video, make_stand_in,
                                                                       make_video, serve_http):
    path, decoded = small_video
    long_video = make_video(tmp_path / "long.mp4", 60, size=96, seed=4)
    url, server = serve_http(path, loop=True)
    notes, live_jsonl = [], tmp_path / "out" / "live" / "detections.jsonl"

    def kill_when_streaming():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not live_jsonl.exists() or len(live_jsonl.read_text().splitlines()) < 5):
            time.sleep(0.05)
        server.kill()

    killer = threading.Thread(target=kill_when_streaming)
    killer.start()
    specs = [StreamSpec("shapes", path), StreamSpec("live", url), StreamSpec("long", long_video)]
    result = run_streams(make_stand_in(infer_s=0.05), specs, out_dir=str(tmp_path / "out"), live_line=False,
                         notify=notes.append, stall_timeout_s=3)
    killer.join()
    rows = {s["name"]: s for s in result.streams}
    assert rows["live"]["status"] in ("closed", "failed") and rows["live"]["frames_processed"] >= 5
    assert [n for n in notes if "live" in n] == [n for n in notes if "the other streams go on" in n]
    assert len([n for n in notes if "live" in n]) == 1
    for name, frames in (("shapes", len(decoded)), ("long", 60)):
        assert rows[name]["status"] == "finished" and rows[name]["frames_processed"] == frames
        assert rows[name]["frames_dropped"] == 0
    assert rows["long"]["ended_at_s"] > rows["live"]["ended_at_s"]  # it went on after the live one died
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["aggregate"]["streams_lost"] == 1 and report["aggregate"]["streams_finished"] == 2
    assert len(_rows(tmp_path / "out" / "long" / "detections.jsonl")) == 60


def test_reconnect_reopens_a_dropped_stream_and_numbers_on(tmp_path, small_video, stand_in, serve_http,
                                                             monkeypatch):
    from mrcnn_edge.runtime import multistream

    monkeypatch.setattr(multistream, "RECONNECT_BACKOFF_S", (0.2, 0.5))  # seconds, not the default's 0.5-8
    monkeypatch.setattr(multistream, "RECONNECT_ATTEMPTS", 8)
    path, decoded = small_video
    url, first = serve_http(path)
    port = int(url.rsplit(":", 1)[1].split("/")[0])

    def serve_again():  # the camera comes back on the same address once the first session is over
        first.wait(30)
        serve_http(path, port=port)

    threading.Thread(target=serve_again, daemon=True).start()
    notes = []
    result = run_streams(stand_in, [StreamSpec("cam", url), StreamSpec("file", path)], out_dir=str(tmp_path),
                         reconnect=True, live_line=False, notify=notes.append, stall_timeout_s=3)
    row = result.streams[0]
    assert row["reconnects"] >= 1 and row["frames_captured"] == 2 * len(decoded)
    assert row["frames_processed"] + row["frames_dropped"] == 2 * len(decoded)
    frames = [r["frame"] for r in _rows(tmp_path / "cam" / "detections.jsonl")]
    assert frames == sorted(frames) and frames[-1] == 2 * len(decoded) - 1  # one numbering across both sessions
    assert any("reconnecting in" in n for n in notes)
    assert row["status"] == "failed" and "could not open stream" in row["message"]  # gave up after the tries
    assert [n for n in notes if "the other streams go on" in n] == [n for n in notes if "stream cam (" in n]
    assert len([n for n in notes if "stream cam (" in n]) == 1 and result.streams[1]["status"] == "finished"
