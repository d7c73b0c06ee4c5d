"""`run --preview`: the page in a real browser (headless Chromium), its refused paths, and its cost."""
import http.client
import json
import shutil
import socket
import threading
import time

import numpy as np
import pytest

from helpers import require_module, unless_installed
from mrcnn_edge.errors import UserError
from mrcnn_edge.runtime.multistream import run_streams
from mrcnn_edge.runtime.preview import PreviewServer, _Channel, parse_address
from mrcnn_edge.runtime.sources import Source
from mrcnn_edge.runtime.stream_list import StreamSpec


def _get(url_port, path):
    conn = http.client.HTTPConnection("127.0.0.1", url_port, timeout=5)
    conn.request("GET", path)  # sent as written: no client-side normalisation of ../
    response = conn.getresponse()
    body = response.read() if response.status != 200 or "mjpg" not in path else b""
    conn.close()
    return response.status, response.getheader("Content-Type"), body


@pytest.fixture
def server():
    stats = [{"name": "a", "fps": 1.5, "p99_ms": 20.0, "frames": 3, "dropped": 0, "status": "running"}]
    preview = PreviewServer("127.0.0.1:0", ["a", "b"], lambda: stats)
    yield preview
    preview.close()


def _port(preview):
    return int(preview.url.rsplit(":", 1)[1].strip("/"))


def test_serves_its_page_and_stats_and_nothing_else(server):
    port = _port(server)
    status, kind, body = _get(port, "/")
    assert status == 200 and kind.startswith("text/html") and b'src="/stream/1.mjpg"' in body
    status, kind, body = _get(port, "/stats.json?t=1")
    assert status == 200 and json.loads(body)["streams"][0]["fps"] == 1.5
    for path in ("/etc/passwd", "/../../etc/passwd", "/stream/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                 "/stream/2.mjpg", "/stream/-1.mjpg", "/stream/0.mjpg/../../../etc/passwd", "//etc/passwd",
                 "/stats.json/..", "/index.html%00.jpg", "/mrcnn_edge/runtime/preview.py"):
        status, _, body = _get(port, path)
        assert status == 404 and b"root:" not in body and b"import" not in body, path


def test_binds_loopback_by_default_and_bad_addresses_are_one_line(server):
    assert server.url.startswith("http://127.0.0.1:")
    assert parse_address("8080") == ("127.0.0.1", 8080) and parse_address("0.0.0.0:81") == ("0.0.0.0", 81)
    for bad in ("http", "70000", "host:", "-1", "80a"):
        with pytest.raises(UserError, match=r"--preview takes \[HOST:\]PORT") as info:
            parse_address(bad)
        assert "\n" not in str(info.value)
    with pytest.raises(UserError, match="is in use: pick another port"):
        PreviewServer(f"127.0.0.1:{_port(server)}", ["a"], list)


def test_a_slow_viewer_gets_the_newest_frame_not_a_backlog():
    channel = _Channel()
    jpeg, seen = channel.newer_than(0, timeout_s=0.01)
    assert jpeg is None and seen == 0
    for i in range(1, 6):  # five frames while the viewer was busy sending
        channel.publish(b"frame%d" % i)
    assert channel.newer_than(seen, timeout_s=0.01) == (b"frame5", 5)
    assert channel.newer_than(5, timeout_s=0.01) == (None, 5)  # nothing newer: it waits, never repeats


class _Camera:
    """A live source of moving frames (a white square sweeping a grey field) until stop is set."""

    def __init__(self, stop, size=(96, 128), period_s=0.02, phase=0):
        self.stop, self.size, self.period_s, self.t = stop, size, period_s, phase

    def __call__(self):
        if self.stop.is_set():
            return None
        time.sleep(self.period_s)
        self.t += 1
        h, w = self.size
        image = np.full((h, w, 3), 60, np.uint8)
        x = (self.t * 4) % (w - 24)
        image[30:54, x:x + 24] = 255
        return image, ""


def _cameras(stop):
    return [StreamSpec(f"cam{i}", Source(_Camera(stop, phase=10 * i), f"camera {i}", live=True)) for i in range(2)]


def test_costs_nothing_while_no_browser_watches(tmp_path, make_stand_in):
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    result = run_streams(make_stand_in(infer_s=0.01), _cameras(stop), preview="127.0.0.1:0", live_line=False,
                         notify=lambda m: None, report_dir=str(tmp_path))
    report = json.loads((tmp_path / "report.json").read_text())
    assert result.frames_processed > 10 and report["preview"]["frames_encoded"] == 0


def test_a_viewer_that_never_reads_does_not_slow_the_run(tmp_path, make_stand_in):
    stop = threading.Event()
    notes = []
    started = threading.Event()

    def stalled_viewer():  # connects to a stream, then never reads a byte
        while not any("preview" in n for n in notes):
            time.sleep(0.01)
        port = int(next(n for n in notes if "preview" in n).rsplit(":", 1)[1].strip("/"))
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /stream/0.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
        started.set()
        stop.wait(10)
        sock.close()

    threading.Thread(target=stalled_viewer, daemon=True).start()
    threading.Timer(2.0, stop.set).start()
    result = run_streams(make_stand_in(infer_s=0.01), _cameras(stop), preview="127.0.0.1:0", live_line=False,
                         notify=notes.append, report_dir=str(tmp_path))
    assert started.is_set()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["preview"]["frames_encoded"] > 0  # it was watched...
    frames = {s["name"]: s["frames_processed"] for s in result.streams}
    assert frames["cam0"] > 0.5 * frames["cam1"] > 0  # ...and the watched stream kept pace with the other


chromium = shutil.which("chromium") or shutil.which("chromium-browser")
chromedriver = shutil.which("chromedriver")


@unless_installed(bool(chromium and chromedriver), reason="chromium and chromium-driver not installed "
                    "(apt-get install -y chromium chromium-driver); CI installs them (make sysdeps)")
def test_the_page_in_a_real_browser_shows_both_streams_moving_with_their_fps(tmp_path, make_stand_in):
    require_module("selenium")
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    options.page_load_strategy = "eager"  # the MJPEG images never finish loading: do not wait for them
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=800,600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=chromedriver), options=options)
    stop, notes, outcome = threading.Event(), [], {}

    def run():
        outcome["result"] = run_streams(make_stand_in(infer_s=0.02), _cameras(stop), preview="127.0.0.1:0",
                                        live_line=False, notify=notes.append)

    runner = threading.Thread(target=run)
    runner.start()
    try:
        while not any("preview" in n for n in notes) and runner.is_alive():
            time.sleep(0.02)
        url = next(n for n in notes if "preview" in n).rsplit(" at ", 1)[1]
        driver.get(url)
        wait = WebDriverWait(driver, 20)
        for i in range(2):  # both images decoded, both fps figures filled in by the page's script
            wait.until(lambda d: d.execute_script(f"return document.getElementById('img-{i}').naturalWidth") > 0)
            wait.until(lambda d: float(d.find_element(By.ID, f"fps-{i}").text.replace("-", "0") or 0) > 0)
        first = [_pixels(driver.find_element(By.ID, f"img-{i}").screenshot_as_png) for i in range(2)]
        time.sleep(0.7)
        second = [_pixels(driver.find_element(By.ID, f"img-{i}").screenshot_as_png) for i in range(2)]
        fps = [float(driver.find_element(By.ID, f"fps-{i}").text) for i in range(2)]
        p99 = [float(driver.find_element(By.ID, f"p99-{i}").text) for i in range(2)]
    finally:
        stop.set()
        driver.quit()
        runner.join(30)
    for a, b in zip(first, second):
        assert a.shape[0] >= 90 and a.std() > 10 and b.std() > 10  # not blank: the grey field and the square
        assert np.abs(a.astype(int) - b.astype(int)).max() > 100  # the square moved between the screenshots
    assert all(f > 0 for f in fps) and all(p > 0 for p in p99)
    rows = {s["name"]: s for s in outcome["result"].streams}
    assert all(rows[f"cam{i}"]["fps"] > 0 for i in range(2))


def _pixels(png: bytes) -> np.ndarray:
    import cv2

    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
