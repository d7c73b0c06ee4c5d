"""BackgroundSinks: the writer thread keeps every frame, in order, and surfaces a sink's error."""
import threading

import numpy as np
import pytest

from mrcnn_edge.errors import UserError
from mrcnn_edge.runtime.detections import Detections
from mrcnn_edge.runtime.sinks import BackgroundSinks, Sink
from mrcnn_edge.runtime.sources import Frame


class Recorder(Sink):
    def __init__(self, fail_at=None):
        self.indices, self.threads, self.closed, self.fail_at = [], set(), False, fail_at

    def write(self, frame, dets, fps):
        if frame.index == self.fail_at:
            raise UserError(f"disk full at frame {frame.index}")
        self.indices.append(frame.index)
        self.threads.add(threading.current_thread().name)

    def close(self):
        self.closed = True


def _frames(n):
    image = np.zeros((4, 4, 3), np.uint8)
    return [(Frame(i, image, 0.0), Detections.empty(4, 4), 0.0) for i in range(n)]


def test_every_frame_in_order_off_the_calling_thread():
    a, b = Recorder(), Recorder()
    sinks = BackgroundSinks([a, b], depth=2)
    for item in _frames(50):
        sinks.write(*item)
    sinks.flush()
    assert a.indices == b.indices == list(range(50))
    assert a.threads == {"mrcnn-edge-sinks"}
    sinks.close()
    assert a.closed and b.closed


def test_a_sink_error_reaches_the_stream_and_every_sink_is_closed():
    bad = Recorder(fail_at=3)
    sinks = BackgroundSinks([bad], depth=1)
    with pytest.raises(UserError, match="disk full at frame 3"):
        for item in _frames(20):
            sinks.write(*item)
        sinks.flush()
    assert bad.indices == [0, 1, 2]  # nothing after the failure is written
    sinks.close()  # raises nothing more while unwinding
    assert bad.closed
