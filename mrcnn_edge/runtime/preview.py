"""`run --preview [HOST:]PORT`: every stream's annotated frames in a browser, as MJPEG (no dependency).

The server answers exactly four kinds of path: the page (`/`), `/stats.json` (each stream's fps and p99,
which the page polls) and `/stream/<i>.mjpg`, one per stream; anything else is 404, so no path reaches the
file system. It binds 127.0.0.1 unless a host is given. It is cheap by construction:
  * a stream's frames are drawn and JPEG-encoded only while a browser watches that stream;
  * each stream keeps only its newest JPEG: a slow browser is sent the newest frame when it is ready for
    one, never a backlog, and the pipeline never waits for a browser.
"""
from __future__ import annotations

import errno
import html
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import cv2

from ..errors import UserError
from .draw import annotate
from .sinks import Sink

DEFAULT_HOST = "127.0.0.1"
JPEG_QUALITY = 80
_BOUNDARY = "mrcnn-edge-frame"
_POLL_MS = 500  # how often the page asks for fresh figures


def parse_address(text: str) -> tuple[str, int]:
    """'8080' -> ('127.0.0.1', 8080); '0.0.0.0:8080' -> ('0.0.0.0', 8080). Port 0 picks a free port."""
    host, _, port = str(text).rpartition(":")
    host = host.strip("[]") or DEFAULT_HOST
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UserError(f"--preview takes [HOST:]PORT with a port from 0 to 65535 (e.g. 8080 or 0.0.0.0:8080), "
                        f"not {text!r}")
    return host, int(port)


class _Channel:
    """One stream's newest JPEG, and how many browsers are watching it."""

    def __init__(self):
        self.viewers = 0
        self.encoded = 0  # JPEGs made: stays 0 while nobody watches
        self._jpeg: bytes | None = None
        self._version = 0
        self._cond = threading.Condition()

    def publish(self, jpeg: bytes) -> None:
        with self._cond:
            self._jpeg, self._version = jpeg, self._version + 1
            self.encoded += 1
            self._cond.notify_all()

    def newer_than(self, version: int, timeout_s: float) -> tuple[bytes | None, int]:
        """The newest JPEG once it is newer than `version` (None after timeout_s)."""
        with self._cond:
            self._cond.wait_for(lambda: self._version > version, timeout_s)
            return (self._jpeg, self._version) if self._version > version else (None, version)

    def watch(self, delta: int) -> None:
        with self._cond:
            self.viewers += delta


class PreviewSink(Sink):
    """A stream's sink that feeds its channel; it does nothing at all while no browser watches."""

    def __init__(self, channel: _Channel):
        self.channel = channel

    def write(self, frame, dets, fps):
        if self.channel.viewers == 0:  # the whole cost of the preview when nobody looks: one comparison
            return
        bgr = cv2.cvtColor(annotate(frame.image, dets, fps), cv2.COLOR_RGB2BGR)
        ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if ok:
            self.channel.publish(jpeg.tobytes())


class PreviewServer:
    """Serves the page for `names` (one channel each); `stats()` returns the figures the page shows."""

    def __init__(self, address: str, names: list[str], stats: Callable[[], list[dict]]):
        host, port = parse_address(address)
        self.names = list(names)
        self.channels = [_Channel() for _ in names]
        self.stats = stats
        self.closing = threading.Event()
        self._routes = {"/": self._page, "/index.html": self._page, "/stats.json": self._stats}
        self._routes.update({f"/stream/{i}.mjpg": self._mjpeg(i) for i in range(len(names))})
        try:
            self._httpd = ThreadingHTTPServer((host, port), self._handler())
        except OSError as e:
            raise UserError(_bind_error(host, port, e)) from None
        self._httpd.daemon_threads = True
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="mrcnn-edge-preview", daemon=True)
        self._thread.start()

    def sink(self, index: int) -> PreviewSink:
        return PreviewSink(self.channels[index])

    @property
    def frames_encoded(self) -> int:
        return sum(c.encoded for c in self.channels)

    def close(self) -> None:
        self.closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                route = server._routes.get(self.path.split("?", 1)[0])
                if route is None:
                    self.send_error(404, "not a preview page")
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    pass  # the browser went away

            def log_message(self, *args):  # the run's own output stays readable
                pass

        return Handler

    def _page(self, request) -> None:
        _send(request, "text/html; charset=utf-8", page_html(self.names).encode())

    def _stats(self, request) -> None:
        _send(request, "application/json", json.dumps({"streams": self.stats()}).encode())

    def _mjpeg(self, index: int):
        def serve(request) -> None:
            channel = self.channels[index]
            request.send_response(200)
            request.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={_BOUNDARY}")
            request.send_header("Cache-Control", "no-store")
            request.end_headers()
            channel.watch(+1)
            try:
                version = 0
                while not self.closing.is_set():
                    jpeg, version = channel.newer_than(version, timeout_s=0.5)
                    if jpeg is not None:  # blocks while the browser is slow; newer frames replace this one meanwhile
                        request.wfile.write(f"--{_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                            f"{len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                        request.wfile.flush()
            finally:
                channel.watch(-1)
        return serve


def _send(request, content_type: str, body: bytes) -> None:
    request.send_response(200)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    request.send_header("Cache-Control", "no-store")
    request.end_headers()
    request.wfile.write(body)


def _bind_error(host: str, port: int, e: OSError) -> str:
    if e.errno == errno.EADDRINUSE:
        return f"--preview: port {port} on {host} is in use: pick another port"
    if e.errno == errno.EACCES:
        return f"--preview: no permission to listen on port {port} (ports below 1024 need root): pick a higher one"
    return f"--preview: cannot listen on {host}:{port} ({e.strerror or e}): check the host is an address of this machine"


def page_html(names: list[str]) -> str:
    cells = "\n".join(
        f'<figure><img id="img-{i}" src="/stream/{i}.mjpg" alt="{html.escape(n)}">'
        f'<figcaption><b>{html.escape(n)}</b>: <span id="fps-{i}">-</span> fps, p99 <span id="p99-{i}">-</span> ms, '
        f'<span id="frames-{i}">0</span> frames, <span id="dropped-{i}">0</span> dropped, '
        f'<span id="status-{i}">starting</span></figcaption></figure>' for i, n in enumerate(names))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>mrcnn-edge preview</title>
<style>body{{font-family:sans-serif;background:#111;color:#eee;margin:1em}}
main{{display:flex;flex-wrap:wrap;gap:1em}}figure{{margin:0}}img{{max-width:640px;display:block;background:#000}}</style>
</head><body><h1>mrcnn-edge: {len(names)} stream{'s' if len(names) != 1 else ''}</h1><main>
{cells}
</main><script>
function show(s, i) {{
  document.getElementById("fps-" + i).textContent = s.fps.toFixed(1);
  document.getElementById("p99-" + i).textContent = s.p99_ms.toFixed(1);
  document.getElementById("frames-" + i).textContent = s.frames;
  document.getElementById("dropped-" + i).textContent = s.dropped;
  document.getElementById("status-" + i).textContent = s.status;
}}
function poll() {{
  fetch("/stats.json").then(r => r.json()).then(d => d.streams.forEach(show)).catch(() => {{}});
}}
poll(); setInterval(poll, {_POLL_MS});
</script></body></html>
"""
