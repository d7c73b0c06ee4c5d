"""A real network source: ffmpeg serves a video over HTTP on loopback and `run` reads it."""
import json
import shutil
import socket
import subprocess
import time

import pytest

from helpers import unless_installed
from mrcnn_edge.runtime.run import run_stream

pytestmark = unless_installed(shutil.which("ffmpeg") is not None,
                              reason="ffmpeg not installed (apt-get install -y ffmpeg); CI installs it")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, server: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """Wait for the port to listen without connecting: ffmpeg's -listen 1 serves exactly one client."""
    wanted = f"0100007F:{port:04X} 00000000:0000 0A"  # 127.0.0.1:port, state LISTEN
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"ffmpeg exited early: {server.stderr.read().decode()[-500:]}")
        with open("/proc/net/tcp") as f:
            if any(wanted in line for line in f):
                return
        time.sleep(0.05)
    pytest.fail("ffmpeg did not start listening")


def test_http_stream_delivers_every_frame(tmp_path, small_video, stand_in):
    path, decoded = small_video
    port = _free_port()
    url = f"http://127.0.0.1:{port}/stream.ts"
    server = subprocess.Popen(["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-i", path, "-c:v", "mpeg4",
                               "-q:v", "2", "-f", "mpegts", "-listen", "1", url], stderr=subprocess.PIPE)
    try:
        _wait_listening(port, server)
        result = run_stream(stand_in, url, jsonl=str(tmp_path / "d.jsonl"), report_dir=str(tmp_path),
                            live_line=False)
    finally:
        server.kill()
        server.wait()
    assert result.frames_processed == len(decoded) and result.frames_dropped == 0
    rows = [json.loads(line) for line in open(tmp_path / "d.jsonl")]
    assert [r["frame"] for r in rows] == list(range(len(decoded)))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["live_source"] is True and report["source"] == url
