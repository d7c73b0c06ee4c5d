"""The cross-stream batcher (one frame per stream per batch, the timeout, live drop-oldest, file back-pressure)
and batched inference (one call per batch, a bad frame failing alone, batch-1 and fixed-N artifacts)."""
import threading
import time

import numpy as np
import pytest

from mrcnn_edge.runtime.batch_infer import batch_plan, infer_batch
from mrcnn_edge.runtime.batcher import Batcher


def _drain(batcher):
    batches = []
    while batch := batcher.next_batch():
        batches.append(batch)
    return batches


def test_full_batches_take_one_frame_of_each_stream_in_order():
    batcher = Batcher(max_batch=3, timeout_s=5.0, depth=4)
    for key in "abc":
        batcher.add_stream(key, live=False)
    for i in range(3):
        for key in "abc":
            batcher.put(key, f"{key}{i}")
    for key in "abc":
        batcher.close_stream(key)
    start = time.perf_counter()
    batches = _drain(batcher)
    assert time.perf_counter() - start < 2.0  # full batches never wait for the (5 s) timeout
    assert [sorted(item for _, item in b) for b in batches] == [["a0", "b0", "c0"], ["a1", "b1", "c1"],
                                                                ["a2", "b2", "c2"]]
    assert batcher.batch_sizes == {3: 3}


def test_a_batch_waits_at_most_the_timeout_for_a_slow_stream():
    batcher = Batcher(max_batch=2, timeout_s=0.15)
    batcher.add_stream("fast", live=False)
    batcher.add_stream("stalled", live=False)  # open, but gives nothing
    batcher.put("fast", 1)
    start = time.perf_counter()
    batch = batcher.next_batch()
    waited = time.perf_counter() - start
    assert batch == [("fast", 1)] and 0.1 <= waited
    batcher.put("fast", 2)
    threading.Timer(0.03, batcher.put, ("stalled", "s")).start()  # arrives within the timeout: joins the batch
    assert sorted(map(str, (item for _, item in batcher.next_batch()))) == ["2", "s"]


def test_live_lane_drops_its_oldest_frame_and_counts_it_while_a_file_lane_waits():
    batcher = Batcher(max_batch=2, timeout_s=0.0, depth=2)
    batcher.add_stream("camera", live=True)
    batcher.add_stream("file", live=False)
    for i in range(5):
        assert batcher.put("camera", i)
    assert batcher.dropped("camera") == 3
    batcher.put("file", 0)
    batcher.put("file", 1)
    third = threading.Thread(target=batcher.put, args=("file", 2))
    third.start()
    third.join(0.2)
    assert third.is_alive()  # a full file lane blocks its reader: back-pressure, not a drop
    first = batcher.next_batch()
    third.join(2.0)
    assert not third.is_alive() and batcher.dropped("file") == 0
    batcher.close_stream("camera")
    batcher.close_stream("file")
    rest = _drain(batcher)
    camera = [item for batch in [first, *rest] for key, item in batch if key == "camera"]
    files = [item for batch in [first, *rest] for key, item in batch if key == "file"]
    assert camera == [3, 4] and files == [0, 1, 2]  # the newest live frames survive; every file frame is there


def test_a_removed_stream_stops_its_reader_and_the_others_go_on():
    batcher = Batcher(max_batch=2, timeout_s=0.0, depth=1)
    batcher.add_stream("bad", live=False)
    batcher.add_stream("good", live=False)
    batcher.put("bad", 0)
    blocked = {}
    reader = threading.Thread(target=lambda: blocked.setdefault("result", batcher.put("bad", 1)))
    reader.start()
    time.sleep(0.05)
    batcher.remove_stream("bad")
    reader.join(2.0)
    assert blocked["result"] is False  # its put() returns: the feeder stops reading
    batcher.put("good", "g")
    batcher.close_stream("good")
    assert _drain(batcher) == [[("good", "g")]]


def test_more_streams_than_the_batch_take_turns():
    batcher = Batcher(max_batch=2, timeout_s=0.0, depth=8)
    for key in "abc":
        batcher.add_stream(key, live=False)
        for i in range(4):
            batcher.put(key, i)
        batcher.close_stream(key)
    batches = _drain(batcher)
    assert all(len({k for k, _ in b}) == len(b) <= 2 for b in batches)  # never two frames of one stream
    for key in "abc":
        assert [item for b in batches for k, item in b if k == key] == [0, 1, 2, 3]
    assert sum(len(b) for b in batches) == 12


def test_bad_batch_size_is_refused():
    with pytest.raises(ValueError):
        Batcher(max_batch=0, timeout_s=0.0)


class _Counting:
    """A model double that records its calls' batch sizes and fails on a frame whose pixels are all 7."""

    def __init__(self, batch_axis):
        self.backend = type("Backend", (), {"input_shape": [batch_axis, 3, 2, 2]})()
        self.calls = []

    def infer(self, images):
        self.calls.append(len(images))
        if (images == 7).all(axis=(1, 2, 3)).any():
            raise RuntimeError("bad frame")
        return {"mean": images.reshape(len(images), -1).mean(1)}


def _image(value):
    return np.full((1, 3, 2, 2), value, np.uint8)


def test_a_dynamic_batch_is_one_call_and_a_bad_frame_fails_alone():
    model = _Counting("batch")
    plan = batch_plan(model, streams=3)
    assert plan.batched and plan.size == 3 and not plan.note
    out = infer_batch(model, [_image(1), _image(2), _image(3)], plan)
    assert model.calls == [3] and [raw["mean"][i] for raw, i in out] == [1, 2, 3]
    out = infer_batch(model, [_image(1), _image(7), _image(3)], plan)
    assert model.calls[1:] == [3, 1, 1, 1]  # the batch failed, then each frame alone
    assert isinstance(out[1], RuntimeError) and [raw["mean"][i] for raw, i in (out[0], out[2])] == [1, 3]


def test_batch_one_runs_frame_by_frame_and_a_fixed_batch_is_padded():
    single = _Counting(1)
    plan = batch_plan(single, streams=2)
    assert not plan.batched and "one by one" in plan.note
    infer_batch(single, [_image(1), _image(2)], plan)
    assert single.calls == [1, 1]
    fixed = _Counting(4)
    plan = batch_plan(fixed, streams=6)
    assert plan.size == 4 and plan.fixed == 4
    out = infer_batch(fixed, [_image(5), _image(6)], plan)
    assert fixed.calls == [4] and [raw["mean"][i] for raw, i in out] == [5, 6]
    out = infer_batch(fixed, [_image(5), _image(7)], plan)  # each frame alone is padded to 4 too
    assert fixed.calls[1:] == [4, 4, 4] and isinstance(out[1], RuntimeError)
