"""A real network source: ffmpeg serves a video over HTTP on loopback and `run` reads it."""
import json
import shutil

import pytest

from helpers import unless_installed
from mrcnn_edge.runtime.run import run_stream

pytestmark = unless_installed(shutil.which("ffmpeg") is not None,
                              reason="ffmpeg not installed (apt-get install -y ffmpeg); CI installs it")


def test_http_stream_delivers_every_frame(tmp_path, small_video, stand_in, serve_http):
    path, decoded = small_video
    url, _ = serve_http(path)
    result = run_stream(stand_in, url, jsonl=str(tmp_path / "d.jsonl"), report_dir=str(tmp_path), live_line=False)
    assert result.frames_processed == len(decoded) and result.frames_dropped == 0
    rows = [json.loads(line) for line in open(tmp_path / "d.jsonl")]
    assert [r["frame"] for r in rows] == list(range(len(decoded)))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["live_source"] is True and report["source"] == url
