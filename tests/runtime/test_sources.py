import os
import threading
import time

import cv2
import numpy as np
import pytest

from mrcnn_edge.errors import UserError
from mrcnn_edge.runtime.sources import Source, open_source


def _drain(source, delay_s=0.0):
    try:
        frames = []
        for frame, _ in source.frames():
            frames.append(frame)
            time.sleep(delay_s)
        return frames
    finally:
        source.close()


def test_video_file_delivers_every_frame_in_order_as_rgb(small_video):
    path, decoded = small_video
    frames = _drain(open_source(path, queue_size=2), delay_s=0.005)  # slow consumer: back-pressure, not drops
    assert [f.index for f in frames] == list(range(len(decoded)))
    for frame, expected in zip(frames, decoded):
        assert frame.image.dtype == np.uint8 and frame.image.shape == expected.shape
        np.testing.assert_array_equal(frame.image, expected)
    assert all(a.timestamp <= b.timestamp for a, b in zip(frames, frames[1:]))


def test_file_source_never_drops_with_a_slow_consumer(small_video):
    source = open_source(small_video[0], queue_size=1)
    frames = _drain(source, delay_s=0.01)
    assert len(frames) == 24 and source.dropped == 0


def _counter_reader(n, period_s=0.0):
    produced = []

    def read():
        if len(produced) == n:
            return None
        time.sleep(period_s)
        produced.append(len(produced))
        return np.full((4, 4, 3), len(produced) - 1, np.uint8), ""

    return read, produced


def test_live_source_drops_oldest_and_counts_each_drop():
    read, produced = _counter_reader(60)
    source = Source(read, "fake camera", live=True, queue_size=3)
    frames = _drain(source, delay_s=0.02)  # the consumer is far slower than the camera
    seen = [f.index for f in frames]
    assert len(produced) == 60
    assert source.dropped > 0 and len(seen) + source.dropped == 60  # every frame is delivered or counted
    assert seen == sorted(seen) and seen[-1] == 59  # drops take the oldest: the newest frame always arrives
    assert all(int(f.image[0, 0, 0]) == f.index for f in frames)


def test_live_source_that_stalls_is_an_error():
    gate = threading.Event()
    read, _ = _counter_reader(3)

    def stalling_read():
        item = read()
        if item is None:
            gate.wait(10)  # a camera that stops delivering without closing
        return item

    source = Source(stalling_read, "fake camera", live=True, stall_timeout_s=0.3)
    got = []
    with pytest.raises(UserError, match="delivered no frame for 0.3 s"):
        for frame, _ in source.frames():
            got.append(frame.index)
    gate.set()
    source.close()
    assert got == [0, 1, 2]


def test_image_folder_glob_and_single_image(image_folder):
    folder, images = image_folder
    frames = _drain(open_source(folder))
    assert [f.name for f in frames] == sorted(os.listdir(folder))
    for frame, expected in zip(frames, images):
        np.testing.assert_array_equal(frame.image, expected)
    assert len(_drain(open_source(os.path.join(folder, "*.png")))) == len(images)
    single = _drain(open_source(os.path.join(folder, sorted(os.listdir(folder))[0])))
    assert len(single) == 1


def test_grey_image_is_converted_with_a_note(tmp_path):
    grey = np.arange(64 * 48, dtype=np.uint32).reshape(48, 64).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), grey)
    source = open_source(str(tmp_path / "g.png"))
    (frame,) = _drain(source)
    assert frame.image.shape == (48, 64, 3)
    assert (frame.image == grey[..., None]).all()
    assert "greyscale" in source.notes["grey"]


def test_opaque_rgba_is_converted_and_transparent_rgba_is_composited_over_white(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255  # B=200 in OpenCV's BGRA order
    cv2.imwrite(str(tmp_path / "opaque.png"), rgba)
    source = open_source(str(tmp_path / "opaque.png"))
    (frame,) = _drain(source)
    assert frame.image.shape == (8, 8, 3) and (frame.image[..., 2] == 200).all()
    assert "alpha" in source.notes
    rgba[0, 0, 3], rgba[0, 1, 3] = 0, 128  # one pixel fully transparent, one half
    cv2.imwrite(str(tmp_path / "transparent.png"), rgba)
    source = open_source(str(tmp_path / "transparent.png"))
    (frame,) = _drain(source)
    # Pillow's own compositing over white is the oracle
    from PIL import Image

    with Image.open(tmp_path / "transparent.png") as image:
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        expected = np.asarray(Image.alpha_composite(white, image.convert("RGBA")).convert("RGB"))
    assert (frame.image[0, 0] == 255).all()
    np.testing.assert_allclose(frame.image.astype(int), expected.astype(int), atol=1)
    assert "white" in source.notes["transparent"]


@pytest.mark.parametrize("spec, message", [
    ("/nonexistent/clip.mp4", "source not found"),
    ("ftp://127.0.0.1/clip.mp4", "unsupported URL scheme 'ftp://'"),
    ("/nonexistent/*.png", "no image files match"),
    ("97", "camera 97 could not be opened"),
    ("videotestsrc ! appsink", "GStreamer"),
])
def test_bad_sources_are_one_line_errors(spec, message):
    with pytest.raises(UserError, match=message) as info:
        open_source(spec)
    assert "\n" not in str(info.value)


def test_corrupt_video_is_an_error(tmp_path):
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(os.urandom(20000))
    with pytest.raises(UserError, match="corrupt"):
        _drain(open_source(str(bad)))


def test_truncated_video_is_an_error_after_its_frames(truncated_avi):
    got = []
    with pytest.raises(UserError, match="truncated or corrupt"):
        for frame, _ in open_source(truncated_avi).frames():
            got.append(frame.index)
    assert 0 < len(got) < 24


def test_looping_video_replays_without_end(small_video):
    source = open_source(small_video[0], loop=True)
    frames = []
    for frame, _ in source.frames():
        frames.append(frame)
        if len(frames) == 60:
            break
    source.close()
    assert [f.index for f in frames] == list(range(60))
    np.testing.assert_array_equal(frames[30].image, small_video[1][6])
