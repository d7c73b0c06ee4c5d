"""The capture side of a many-stream run (multistream.py): a feeder thread per stream moves its source's frames
into the stream's batcher lane, numbering them on across reconnections. A stream that ends or fails is one line
and the others go on; with `reconnect`, an RTSP/HTTP stream that drops or cannot be opened is reopened with
backoff until it has failed `attempts` times in a row."""
from __future__ import annotations

import threading
import time
from typing import Callable, cast

from ..errors import UserError
from .batcher import Batcher
from .stream_list import StreamSpec
from .stream_state import StreamState


class StreamFeeder:
    """Opens each stream's source and runs its feeder thread. The reconnect policy comes in as values (attempts:
    consecutive failed reopenings before a stream is given up; backoff_s: first wait, longest wait, doubling in
    between) so that the run's settings stay in one place, multistream.py."""

    def __init__(self, batcher: Batcher, notify: Callable[[str], None], open_options: dict, *, reconnect: bool,
                 max_frames: int | None, attempts: int, backoff_s: tuple[float, float]):
        self.batcher, self.notify, self.open_options = batcher, notify, open_options
        self.reconnect, self.max_frames = reconnect, max_frames
        self.attempts, self.backoff_s = attempts, backoff_s
        self.threads: list[threading.Thread] = []

    def open_first(self, spec: StreamSpec):
        """The stream's source, opened now so that a bad one is refused before the run starts; None when a
        reconnectable one cannot be opened yet (its feeder keeps trying)."""
        if not isinstance(spec.source, str):
            return spec.source
        try:
            return self._open(spec.source)
        except UserError as e:
            if self.reconnect and reconnectable(spec.source):
                self.notify(f"stream {spec.name}: {e}; retrying (--reconnect)")
                return None  # the feeder keeps trying
            raise UserError(f"stream {spec.name}: {e}") from None

    def start(self, stream: StreamState) -> None:
        feeder = threading.Thread(target=self._feed, args=(stream,), name=f"mrcnn-edge-feed-{stream.name}",
                                  daemon=True)
        feeder.start()
        self.threads.append(feeder)

    def join(self, timeout_s: float) -> None:
        for feeder in self.threads:
            feeder.join(timeout=timeout_s)

    def ended(self, stream: StreamState, status: str, message: str) -> None:
        """Record how the stream ended; any end but a finish is one line (the inference side's failures too)."""
        stream.end(status, message)
        if status != "finished":
            verb = "ended" if status == "closed" else status
            self.notify(f"stream {stream.name} ({stream.description}) {verb} after {stream.captured} frames: "
                        f"{message}; the other streams go on")

    def _open(self, spec: str):
        from .sources import open_source

        return open_source(spec, **self.open_options)

    def _feed(self, stream: StreamState) -> None:
        failures = 0
        while True:
            status, message, read = self._feed_source(stream)
            if status is None:  # removed downstream, stopped, or max frames reached
                break
            failures = 0 if read else failures + 1  # a reopening that delivered frames starts the count again
            if not (self.reconnect and reconnectable(stream.spec.source)) or failures >= self.attempts:
                self.ended(stream, status, message)
                break
            wait = min(self.backoff_s[0] * 2 ** failures, self.backoff_s[1])
            self.notify(f"stream {stream.name}: {message}; reconnecting in {wait:g} s "
                        f"(try {failures + 1} of {self.attempts})")
            time.sleep(wait)
            stream.reconnects += 1
        self.batcher.close_stream(stream.index)

    def _feed_source(self, stream: StreamState) -> tuple[str | None, str, int]:
        """Move one source's frames into the lane. Returns (status or None to stop, message, frames read)."""
        read = 0
        try:
            if stream.source is None:  # only a reconnectable source, a URL string, is ever let go of
                stream.source = self._open(cast(str, stream.spec.source))
            for frame, _ in stream.source.frames():
                frame.index = stream.captured  # the stream's own numbering, continued across reconnects
                stream.captured += 1
                read += 1
                if not self.batcher.put(stream.index, frame):
                    return None, "", read
                if self.max_frames is not None and stream.captured >= self.max_frames:
                    stream.end("finished")
                    return None, "", read
            return ("closed", "the live stream closed (a network drop, or the camera is gone)", read) \
                if stream.live else ("finished", "", read)
        except UserError as e:
            return "failed", str(e), read
        except Exception as e:  # a decoder crash is this stream's failure, never the others'
            return "failed", f"{type(e).__name__}: {e}", read
        finally:
            if stream.status == "running" and self.reconnect and stream.source is not None \
                    and reconnectable(stream.spec.source):
                stream.dropped_by_old_sources += stream.source.dropped
                stream.source.close()
                stream.source = None


def reconnectable(source) -> bool:
    return isinstance(source, str) and "://" in source
