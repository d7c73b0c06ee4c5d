"""Cross-stream batching, as DeepStream's nvstreammux: frames of many streams into one inference call.

Every stream has a lane: a short queue of frames waiting for inference. When a lane is full, a live stream
drops its oldest waiting frame and counts it (a stale frame is worth less than a fresh one), while a file
stream's put() waits, so a file never loses a frame. next_batch() takes at most one frame from each lane,
so a fast stream never crowds out the others and each stream's frames stay in order. It waits at most
`timeout_s` after the oldest waiting frame arrived for the batch to fill (nvstreammux's
batched-push-timeout); a batch is full at `max_batch` frames or when every open stream has given one.
"""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Hashable


@dataclass
class _Lane:
    live: bool
    waiting: deque = field(default_factory=deque)  # (arrival time, item)
    dropped: int = 0
    open: bool = True
    removed: bool = False


class Batcher:
    def __init__(self, max_batch: int, timeout_s: float, depth: int = 2):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.max_batch, self.timeout_s, self.depth = max_batch, timeout_s, depth
        self.batch_sizes: Counter = Counter()  # batch size -> batches of that size
        self._lanes: dict[Hashable, _Lane] = {}
        self._order: list[Hashable] = []  # the round-robin order in which lanes give frames
        self._turn = 0
        self._stopped = False
        self._cond = threading.Condition()

    def add_stream(self, key: Hashable, live: bool) -> None:
        with self._cond:
            self._lanes[key] = _Lane(live)
            self._order.append(key)

    def put(self, key: Hashable, item: Any) -> bool:
        """Queue a frame of stream `key`. False when the stream was removed or the batcher stopped:
        the caller stops reading."""
        with self._cond:
            lane = self._lanes[key]
            while not lane.live and len(lane.waiting) >= self.depth and not (lane.removed or self._stopped):
                self._cond.wait()
            if lane.removed or self._stopped:
                return False
            if lane.live and len(lane.waiting) >= self.depth:
                lane.waiting.popleft()
                lane.dropped += 1
            lane.waiting.append((time.perf_counter(), item))
            self._cond.notify_all()
            return True

    def close_stream(self, key: Hashable) -> None:
        """No more frames will come from `key`; those waiting are still batched."""
        with self._cond:
            self._lanes[key].open = False
            self._cond.notify_all()

    def remove_stream(self, key: Hashable) -> None:
        """Drop `key` now (it failed downstream): its waiting frames are discarded and put() returns False."""
        with self._cond:
            lane = self._lanes[key]
            lane.open, lane.removed = False, True
            lane.waiting.clear()
            self._cond.notify_all()

    def stop(self) -> None:
        """End the run: next_batch() returns [] and every put() returns False."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def dropped(self, key: Hashable) -> int:
        return self._lanes[key].dropped

    def next_batch(self) -> list[tuple[Hashable, Any]]:
        """Up to max_batch (stream key, item) pairs, one per stream; [] once every stream is closed and
        drained (or stop() was called)."""
        with self._cond:
            while not self._stopped and not self._ready() and self._any_open():
                self._cond.wait()
            if self._stopped or not self._ready():
                return []
            deadline = min(lane.waiting[0][0] for lane in self._ready()) + self.timeout_s
            while not self._stopped and len(self._ready()) < self._target():
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch = self._take()
            self._cond.notify_all()  # file streams waiting for room
        self.batch_sizes[len(batch)] += 1
        return batch

    def _ready(self) -> list[_Lane]:
        return [lane for lane in self._lanes.values() if lane.waiting]

    def _any_open(self) -> bool:
        return any(lane.open for lane in self._lanes.values())

    def _target(self) -> int:
        """How many frames a full batch has now: one per stream that has or may still give a frame."""
        contributing = sum(1 for lane in self._lanes.values() if lane.open or lane.waiting)
        return min(self.max_batch, contributing)

    def _take(self) -> list[tuple[Hashable, Any]]:
        n = len(self._order)
        batch = []
        for i in range(n):
            key = self._order[(self._turn + i) % n]
            lane = self._lanes[key]
            if lane.waiting and len(batch) < self.max_batch:
                batch.append((key, lane.waiting.popleft()[1]))
        self._turn = (self._turn + 1) % max(n, 1)  # the next batch starts at the next stream
        return batch
