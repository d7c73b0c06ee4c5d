"""One stream of a many-stream run (multistream.py), as its feeder thread, the inference side and the report
all see it: its source, lane key, sinks, tracker, meter, counts and fate. It sits apart from the three so that
each of them can import it without importing another."""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from .latency import LatencyMeter
from .stream_list import StreamSpec

if TYPE_CHECKING:
    from .tracking import Tracker

_FPS_WINDOW = 30  # frames behind each stream's fps figure (the on-frame counter, the preview)


class StreamState:
    """One stream during the run: its source, lane key, sinks, meter and fate."""

    def __init__(self, index: int, spec: StreamSpec, source, sinks: list):
        self.index, self.name, self.spec = index, spec.name, spec
        self.source = source
        self.description = getattr(source, "description", str(spec.source))
        self.live = bool(getattr(source, "live", True))
        self.sinks = sinks
        self.tracker: Tracker | None = None  # its own: identities never cross streams; a reconnection keeps it
        self.meter = LatencyMeter(desc=self.name, live_line=False)
        self.status, self.message = "running", ""
        self.captured = 0  # frames read from the source(s), renumbered across reconnects
        self.dropped_by_old_sources = 0
        self.reconnects = 0
        self.last_done: float | None = None
        self._done_at: deque = deque(maxlen=_FPS_WINDOW)

    @property
    def dropped(self) -> int:
        return self.dropped_by_old_sources + (self.source.dropped if self.source is not None else 0)

    def recent_fps(self) -> float:
        done = self._done_at
        return (len(done) - 1) / (done[-1] - done[0]) if len(done) > 1 and done[-1] > done[0] else 0.0

    def delivered(self, when: float) -> None:
        self._done_at.append(when)
        self.last_done = when

    def end(self, status: str, message: str = "") -> None:
        if self.status == "running":
            self.status, self.message = status, message
