"""`mrcnn-edge run/bench` on bad input: one line on stderr, exit 2, no traceback."""
import subprocess
import sys

import pytest


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "mrcnn_edge.cli", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args, message", [
    (["run", "--model", "missing.onnx", "--source", "0"], "model not found"),
    (["bench", "--model", "missing.onnx"], "model not found"),
])
def test_bad_input_is_one_line(args, message):
    proc = _cli(*args)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"mrcnn-edge {args[0]}: error: ") and message in lines[0]


def test_engine_without_tensorrt(tmp_path):
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"\0")
    proc = _cli("run", "--model", str(engine), "--source", "0")
    assert proc.returncode == 2 and "TensorRT is not installed" in proc.stderr and "Traceback" not in proc.stderr


def test_help_lists_the_streaming_commands():
    out = _cli("--help").stdout
    assert all(cmd in out for cmd in ("run", "demo", "bench"))
