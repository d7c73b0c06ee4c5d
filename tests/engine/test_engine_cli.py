"""`mrcnn-edge build` and `export-triton` from the command line: one line out, one line on error."""
import subprocess
import sys

import pytest


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mrcnn_edge.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


@pytest.mark.parametrize("args, message", [
    (("build", "--model", "missing.onnx"), "mrcnn-edge build: error: model not found: missing.onnx"),
    (("export-triton", "--model", "missing.engine"), "mrcnn-edge export-triton: error: model not found"),
])
def test_errors_are_one_line(args, message):
    proc = _cli(*args)
    assert proc.returncode == 2 and proc.stderr.startswith(message)
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_build_of_a_graph_without_regions_is_one_line(model_onnx):
    """The whole chain (tests/engine/test_chain.py) needs the export's marked regions for surgery: a graph
    without them stops at surgery, in one line. (The engine stage alone: test_engine_build.py.)"""
    proc = _cli("build", "--model", str(model_onnx), "--precision", "fp16")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = [l for l in proc.stderr.splitlines() if l.startswith("mrcnn-edge build: error:")]
    assert "looked for 2 multi-level RoIAlign" in line and "`mrcnn-edge export`" in line


def test_export_triton(model_onnx, tmp_path):
    proc = _cli("export-triton", "--model", str(model_onnx), "--repository", str(tmp_path / "repo"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote {tmp_path / 'repo' / 'model_fp32' / 'config.pbtxt'} (onnxruntime_onnx, "
                                  "dynamic batching up to 8)")
