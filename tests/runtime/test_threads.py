"""$MRCNN_EDGE_THREADS caps every inference session's threads (ONNX Runtime, OpenVINO, the plugin graph runner,
calibration): read back from the runtimes themselves, and a bad value is one line."""
import os
import shutil

import onnxruntime as ort
import pytest

from helpers import require_module
from mrcnn_edge.cli import main
from mrcnn_edge.data.synthetic import VAL
from mrcnn_edge.threads import ENV, ort_session_options


@pytest.fixture(scope="module")
def model_onnx(exported_model):
    return exported_model("shipped", (VAL.height, VAL.width))  # shared with tests/export and tests/precision


@pytest.mark.parametrize("value", ["1", "3"])
def test_onnxruntime_sessions_take_the_variable(monkeypatch, value):
    monkeypatch.setenv(ENV, value)
    assert ort_session_options(ort).intra_op_num_threads == int(value)
    assert ort_session_options(ort, threads=2).intra_op_num_threads == 2  # an explicit count wins
    monkeypatch.delenv(ENV)
    assert ort_session_options(ort).intra_op_num_threads == os.cpu_count()


def test_the_calibrator_session_takes_the_variable(model_onnx, tmp_path, monkeypatch):
    """ONNX Runtime's calibrator makes its own session on every core; calibrate's replaces it, unoptimised as
    ORT's (a fused graph would hide the tensors to range)."""
    from mrcnn_edge.precision.calibrate import _calibrator

    monkeypatch.setenv(ENV, "1")
    session = _calibrator(model_onnx, "minmax", str(tmp_path)).infer_session
    options = session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL


def test_openvino_compiles_with_the_variable(model_onnx, tmp_path, monkeypatch):
    """OpenVINO caps INFERENCE_NUM_THREADS at its cores, so 1 is the value that differs from its default here."""
    require_module("openvino")
    from mrcnn_edge.runtime.backends.openvino_backend import OpenVINOBackend

    path = str(tmp_path / "model.onnx")  # its own folder: the compiled-model cache must not answer for it
    shutil.copyfile(model_onnx, path)
    shutil.copyfile(model_onnx[:-5] + ".json", path[:-5] + ".json")
    monkeypatch.setenv(ENV, "1")
    assert int(OpenVINOBackend(path, cache=False).compiled.get_property("INFERENCE_NUM_THREADS")) == 1
    monkeypatch.delenv(ENV)
    default = int(OpenVINOBackend(path, cache=False).compiled.get_property("INFERENCE_NUM_THREADS"))
    assert default == 0 or default > 1 or os.cpu_count() == 1  # 0: OpenVINO's "as many as it sees fit"


@pytest.mark.parametrize("value", ["two", "0", "-1"])
def test_a_bad_value_is_one_line(model_onnx, tmp_path, capsys, monkeypatch, value):
    monkeypatch.setenv(ENV, value)
    for backend in ("onnxruntime", "openvino"):
        assert main(["bench", "--model", model_onnx, "--backend", backend, "--warmup", "0", "--iterations", "1"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"$MRCNN_EDGE_THREADS is '{value}'" in err[0], err
