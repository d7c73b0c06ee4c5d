"""`mrcnn-edge serve`: a Triton Inference Server on a model repository from `mrcnn-edge export-triton`.

The server binary: the one in the `nvidia-pytriton` wheel when installed (it runs on a CPU-only machine
and ships Triton's Python backend), else $TRITONSERVER, else `tritonserver` on PATH (NVIDIA's containers).
The wheel's binary needs three things measured on it: LD_LIBRARY_PATH at the wheel's `nvidia_pytriton.libs`;
the Python backend's stub for our Python version beside the backend library (we assemble that backend
folder in our cache, so the installed wheel is never modified); and, since the stub runs the first
`python3` on PATH and needs numpy < 2 (with numpy 2 every tensor reached model.py as zeros), its own
small environment with numpy 1.26 and onnxruntime, made once with the venv module and cached.
"""
from __future__ import annotations

import fcntl
import importlib.util
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from ..errors import UserError
from ..files import write_atomic

# What model.py of the `python` kind needs, in the stub's own environment (numpy < 2: see above).
# onnxruntime 1.32 needs numpy >= 1.21.6 and runs on 1.26 (its wheels target the numpy 1.x ABI); it is the
# release the client side uses here, so the server runs the very same kernels.
STUB_REQUIREMENTS = ("numpy==1.26.4", "onnxruntime==1.32.0")
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "mrcnn-edge")
READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Tritonserver:
    """The binary, and for the nvidia-pytriton wheel the folder holding its own libraries and backends."""
    path: str
    wheel_root: str | None = None  # <site-packages>/pytriton/tritonserver

    @property
    def library_dir(self) -> str | None:
        return os.path.join(os.path.dirname(os.path.dirname(self.wheel_root)), "nvidia_pytriton.libs") \
            if self.wheel_root else None


def free_ports(n: int) -> list[int]:
    """n TCP ports free on 127.0.0.1 now, for a TritonServer started by a test or benchmark (all bound at
    once, so the n differ)."""
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def find_tritonserver() -> Tritonserver:
    """nvidia-pytriton's binary, else $TRITONSERVER, else tritonserver on PATH; one line when none."""
    spec = importlib.util.find_spec("pytriton")  # finds the package without importing it (its deps are absent)
    if spec is not None and spec.submodule_search_locations:
        root = os.path.join(list(spec.submodule_search_locations)[0], "tritonserver")
        if os.path.isfile(os.path.join(root, "bin", "tritonserver")):
            return Tritonserver(os.path.join(root, "bin", "tritonserver"), root)
    path = os.environ.get("TRITONSERVER") or shutil.which("tritonserver")
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return Tritonserver(path)
    raise UserError("no Triton server binary found: pip install --no-deps nvidia-pytriton==0.7.0, or set "
                    "$TRITONSERVER, or run in NVIDIA's Triton container (tritonserver on PATH)")


def stub_environment(notify=None, root: str | None = None) -> str:
    """The Python backend stub's environment (numpy 1.26 + onnxruntime): made once with the venv module,
    under a lock so that concurrent servers make it once; its bin/ goes first on the server's PATH."""
    env = root or os.environ.get("MRCNN_EDGE_TRITON_ENV") or os.path.join(CACHE, "triton-python-env")
    marker = os.path.join(env, ".mrcnn-edge-ready")
    wanted = "\n".join(STUB_REQUIREMENTS + (sys.version.split()[0],))
    if _read(marker) == wanted:
        return env
    os.makedirs(os.path.dirname(env) or ".", exist_ok=True)
    with open(env + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _read(marker) == wanted:  # made by whoever held the lock before us
            return env
        (notify or _note)(f"making the Triton Python backend's environment (once): {env}")
        shutil.rmtree(env, ignore_errors=True)
        python = os.path.join(env, "bin", "python")
        for step in ([sys.executable, "-m", "venv", env],
                     [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *STUB_REQUIREMENTS]):
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
                raise UserError(f"could not make the Triton Python backend's environment {env} ({last}): "
                                f"check that pip can reach the package index, or pip install "
                                f"{' '.join(STUB_REQUIREMENTS)} into a venv and set $MRCNN_EDGE_TRITON_ENV")
        with open(marker, "w") as f:
            f.write(wanted)
    return env


def _read(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def python_backend_directory(wheel_root: str, env: str) -> str:
    """A backends folder for the wheel's binary: its Python backend with the stub for our Python beside it
    (where the backend looks for it). Links, remade on each start, so an upgraded wheel is picked up."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = os.path.join(wheel_root, "python_backend_stubs", version, "triton_python_backend_stub")
    if not os.path.isfile(stub):
        raise UserError(f"nvidia-pytriton has no Python backend stub for Python {version}: "
                        "run mrcnn-edge with Python 3.8 to 3.13")
    backend = os.path.join(env, "triton-backends", "python")
    os.makedirs(backend, exist_ok=True)
    sources = [os.path.join(wheel_root, "backends", "python", f)
               for f in ("libtriton_python.so", "triton_python_backend_utils.py")] + [stub]
    for source in sources:
        link = os.path.join(backend, os.path.basename(source))
        # atomic: a server starting beside us never sees a missing file
        with write_atomic(link, suffix=f".{os.getpid()}.{threading.get_ident()}") as temporary:
            os.symlink(source, temporary)
    return os.path.dirname(backend)


@dataclass
class TritonServer:
    """A tritonserver process on `repository`; `start()` returns once every model is ready.

    Its log goes to `log_path` (default: a temporary file); a failure to start gives one line with
    the server's own last error. Use as a context manager, or call stop()."""
    repository: str
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    log_path: str | None = None
    notify: object = None
    process: subprocess.Popen | None = field(default=None, init=False)

    @property
    def endpoints(self) -> dict[str, str]:
        return {"http": f"127.0.0.1:{self.http_port}", "grpc": f"127.0.0.1:{self.grpc_port}",
                "metrics": f"http://127.0.0.1:{self.metrics_port}/metrics"}

    def _command(self) -> tuple[list[str], dict]:
        server = find_tritonserver()
        args = [server.path, f"--model-repository={os.path.abspath(self.repository)}",
                f"--http-port={self.http_port}", f"--grpc-port={self.grpc_port}",
                f"--metrics-port={self.metrics_port}", "--log-verbose=0"]
        env = dict(os.environ)
        if server.wheel_root:
            stub_env = stub_environment(self.notify)
            args.append(f"--backend-directory={python_backend_directory(server.wheel_root, stub_env)}")
            env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [server.library_dir, env.get("LD_LIBRARY_PATH")]))
            env["PATH"] = os.pathsep.join([os.path.join(stub_env, "bin"), env.get("PATH", "")])
            env.pop("PYTHONHOME", None)
            env.pop("PYTHONPATH", None)  # the stub's python3 sees its own environment only
        return args, env

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> "TritonServer":
        fix = "write one with `mrcnn-edge export-triton --model model.onnx --kind python --repository DIR`"
        if not os.path.isdir(self.repository):
            raise UserError(f"model repository not found: {self.repository} ({fix})")
        if not glob.glob(os.path.join(glob.escape(self.repository), "*", "config.pbtxt")):
            # Triton would start, serve nothing and say nothing about it
            raise UserError(f"{self.repository} holds no model (no <name>/config.pbtxt in it): {fix}, or pass the "
                            "folder export-triton wrote")
        args, env = self._command()
        if self.log_path is None:
            self.log_path = tempfile.mkstemp(prefix="mrcnn-edge-tritonserver-", suffix=".log")[1]
        with open(self.log_path, "w") as log:
            # its own session: Ctrl-C reaches us alone, and we stop the server once, cleanly
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        url = f"http://127.0.0.1:{self.http_port}/v2/health/ready"
        process = self.process
        assert process is not None  # start() started it
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise UserError(f"tritonserver exited with code {process.returncode} before it was ready: "
                                f"{self.last_error()} (log: {self.log_path})")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise UserError(f"tritonserver was not ready after {timeout_s:.0f} s: {self.last_error()} "
                        f"(log: {self.log_path})")

    def last_error(self) -> str:
        """The server's last error line (its log lines start with E for errors), else its last line."""
        lines = [line.strip() for line in (_read(self.log_path) or "").splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("E") and line[1:5].isdigit()]
        line = (errors or lines or ["no output"])[-1]
        if errors and line.count('"') >= 2:  # E1201 12:00:00.0 123 file.cc:45] "message"
            line = line.split('"', 1)[1].rstrip('"')
        return line.split("\\n")[0][:400]  # Triton writes a Python traceback as literal \n: keep its first line

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM (Triton's graceful shutdown: it unloads the models and their stubs), then SIGKILL."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def __enter__(self) -> "TritonServer":
        return self.start() if self.process is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass(frozen=True)
class ServeResult:
    repository: str
    endpoints: dict
    seconds: float
    returncode: int | None

    def summary(self) -> str:
        return f"tritonserver on {self.repository} stopped after {self.seconds:.0f} s (exit code {self.returncode})"


def serve(repository: str, *, http_port: int = 8000, grpc_port: int = 8001, metrics_port: int = 8002,
          log_path: str | None = None) -> ServeResult:
    """Start Triton on `repository`, print its endpoints, and keep it up until Ctrl-C or SIGTERM."""
    server = TritonServer(repository, http_port, grpc_port, metrics_port, log_path)
    t0 = time.monotonic()
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        server.start()
        e = server.endpoints
        print(f"Triton ready on {repository} (log: {server.log_path})\n  HTTP     http://{e['http']}\n"
              f"  gRPC     {e['grpc']}\n  metrics  {e['metrics']}\n"
              f"  run      mrcnn-edge run --model triton://{e['grpc']}/<model> --source <video>\n"
              "Ctrl-C or SIGTERM stops it.", flush=True)
        process = server.process
        assert process is not None  # start() started it
        while not stop.wait(0.5):
            if process.poll() is not None:
                raise UserError(f"tritonserver exited with code {process.returncode}: {server.last_error()} "
                                f"(log: {server.log_path})")
    except KeyboardInterrupt:
        pass
    finally:
        code = server.stop()
        signal.signal(signal.SIGTERM, previous)
    return ServeResult(repository, server.endpoints, time.monotonic() - t0, code)
