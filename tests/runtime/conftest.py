import os

import cv2
import numpy as np
import pytest

from mrcnn_edge.runtime.detections import Detections


class StandInPredictor:
    """Test double with the Predictor's stage methods, for pipeline tests that need no model.

    Deterministic and content-dependent, so a test that compares its detections on different frames
    can fail: one detection per frame whose box is the bright half of the frame and whose score is
    the frame's mean brightness. `infer_s` sleeps (releasing the GIL, as ONNX Runtime does).
    """
    backend_name = "stand-in"
    precision = "fp32"
    class_names = ["circle", "rectangle", "triangle", "star"]

    def __init__(self, input_size=(64, 64), infer_s: float = 0.0):
        self.input_size = input_size
        self.infer_s = infer_s

    def preprocess(self, frame):
        h, w = frame.shape[:2]
        small = cv2.resize(frame, self.input_size[::-1], interpolation=cv2.INTER_AREA)
        return small.transpose(2, 0, 1)[None], {"frame_size": (h, w)}

    def infer(self, batch):
        if self.infer_s:
            import time

            time.sleep(self.infer_s)
        return {"grey": batch.mean(1)}  # [B,H,W]

    def postprocess(self, raw, meta, image=0):
        h, w = meta["frame_size"]
        grey = raw["grey"][image]
        ys, xs = np.nonzero(grey > np.median(grey))
        if not len(ys):
            return Detections.empty(h, w, self.class_names)
        sy, sx = h / grey.shape[0], w / grey.shape[1]
        box = np.array([[xs.min() * sx, ys.min() * sy, (xs.max() + 1) * sx, (ys.max() + 1) * sy]], np.float32)
        mask = np.zeros((1, h, w), bool)
        x1, y1, x2, y2 = box[0].astype(int)
        mask[0, y1:y2, x1:x2] = True
        cls = np.array([1 + int(grey.mean()) % 4], np.int32)
        return Detections(box, np.array([grey.mean() / 255], np.float32), cls, mask, list(self.class_names))

    def __call__(self, frame):
        batch, meta = self.preprocess(frame)
        return self.postprocess(self.infer(batch), meta)


@pytest.fixture
def stand_in():
    return StandInPredictor()


@pytest.fixture
def make_stand_in():
    """StandInPredictor itself, for tests that set its inference time (a fixture, since conftest modules
    of other test folders share the name `conftest`)."""
    return StandInPredictor


def write_video(path, frames, fps=30):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return str(path)


def scene_frames(n, size=128, seed=0):
    from mrcnn_edge.data.video import synthetic_frames

    return list(synthetic_frames(n, size, size, seed=seed))


@pytest.fixture(scope="session")
def small_video(tmp_path_factory):
    """24 frames, 128x128, moving shapes: (path, decoded RGB frames)."""
    path = write_video(tmp_path_factory.mktemp("video") / "shapes.mp4", scene_frames(24))
    cap = cv2.VideoCapture(path)
    decoded = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        decoded.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    assert len(decoded) == 24
    return path, decoded


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """Five PNGs named like COCO files (image ids 7..11): (folder, RGB images in order)."""
    folder = tmp_path_factory.mktemp("images")
    images = scene_frames(5, size=96, seed=1)
    for i, img in enumerate(images):
        cv2.imwrite(os.path.join(folder, f"{7 + i:012d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return str(folder), images


@pytest.fixture(scope="session")
def truncated_avi(tmp_path_factory, small_video):
    """small_video as MJPG AVI cut in half. The AVI header (frame count 24) is at the start, so the
    cut file still opens and plays up to the cut."""
    folder = tmp_path_factory.mktemp("truncated")
    full = folder / "full.avi"
    cap = cv2.VideoCapture(small_video[0])
    writer = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 30, (128, 128))
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        writer.write(bgr)
    writer.release()
    data = full.read_bytes()
    (folder / "cut.avi").write_bytes(data[: len(data) // 2])
    return str(folder / "cut.avi")


@pytest.fixture
def make_video():
    """make_video(path, frames, size=128, seed=0, fps=30) -> path of an mp4v video of moving shapes."""
    def make(path, n, size=128, seed=0, fps=30):
        return write_video(path, scene_frames(n, size, seed), fps)

    return make


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, server, timeout_s: float = 10.0) -> None:
    """Wait for the port to listen without connecting: ffmpeg's -listen 1 serves exactly one client."""
    import time

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


@pytest.fixture
def serve_http():
    """serve_http(video, loop=False, port=None) -> (url, ffmpeg process): ffmpeg serves the video at its frame
    rate over HTTP on 127.0.0.1 (a free port unless given) to one client, looping forever with loop=True;
    every server is killed after the test."""
    import subprocess

    servers = []

    def serve(video, loop=False, port=None):
        port = port or _free_port()
        url = f"http://127.0.0.1:{port}/stream.ts"
        server = subprocess.Popen(["ffmpeg", "-nostdin", "-loglevel", "error", "-re",
                                   *(["-stream_loop", "-1"] if loop else []), "-i", str(video), "-c:v", "mpeg4",
                                   "-q:v", "2", "-f", "mpegts", "-listen", "1", url], stderr=subprocess.PIPE)
        servers.append(server)
        _wait_listening(port, server)
        return url, server

    yield serve
    for server in servers:
        server.kill()
        server.wait()
