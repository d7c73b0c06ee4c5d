"""The OpenVINO backend: its compiled-model cache, bf16 and int8 artifacts, and backend selection."""
import json
import os
import shutil

import numpy as np
import pytest

from helpers.parity import matched_mask_iou
from helpers import require_module
from mrcnn_edge.cli import main
from mrcnn_edge.data.synthetic import VAL, sample
from mrcnn_edge.errors import UserError
from mrcnn_edge.precision.convert import convert
from mrcnn_edge.runtime import Predictor

openvino = require_module("openvino")
from mrcnn_edge.runtime.backends import openvino_backend  # noqa: E402
from mrcnn_edge.runtime.backends.openvino_backend import OpenVINOBackend, cache_dir  # noqa: E402


@pytest.fixture(scope="module")
def model_onnx(exported_model):
    return exported_model("shipped", (VAL.height, VAL.width))  # shared with tests/export and tests/precision


def _own_copy(model_onnx, folder) -> str:
    """model.onnx hard-linked into `folder` with its sidecar, so caches and artifacts land there."""
    path = os.path.join(folder, "model.onnx")
    os.link(model_onnx, path)
    shutil.copyfile(model_onnx[:-5] + ".json", path[:-5] + ".json")
    return path


def _close_to_fp32(model_onnx, path, bar, precision):
    reference = Predictor.from_path(model_onnx, score_threshold=0.5, backend="onnxruntime")
    converted = Predictor.from_path(path, score_threshold=0.5, backend="openvino")
    assert (converted.backend_name, converted.precision) == ("openvino", precision)
    compared = 0
    for i in range(2):
        ref, got = reference(sample(VAL, i)[0]), converted(sample(VAL, i)[0])
        assert got.masks.shape[1:] == (VAL.height, VAL.width)
        compared += len(ref)
        assert matched_mask_iou(ref, got) > bar
    assert compared > 0
    return converted


def _cache_files(folder) -> dict[str, int]:
    return {name: os.stat(os.path.join(folder, name)).st_mtime_ns for name in os.listdir(folder)}


def test_compiled_model_cache_is_reused_on_a_second_start(model_onnx, tmp_path):
    path = _own_copy(model_onnx, tmp_path)
    stale, other = tmp_path / "model.0123456789ab.ov_cache", tmp_path / "model.int8.0123456789ab.ov_cache"
    stale.mkdir(), other.mkdir()
    first = OpenVINOBackend(path)
    assert not first.loaded_from_cache and first.cache_dir == cache_dir(path)
    written = _cache_files(first.cache_dir)
    assert written  # the compiled blob
    assert not stale.exists() and other.exists()  # model.onnx's old key goes; model.int8.onnx's cache stays
    second = OpenVINOBackend(path)
    assert second.loaded_from_cache
    assert _cache_files(second.cache_dir) == written  # imported, not compiled and written again
    images = np.ascontiguousarray(sample(VAL, 0)[0].transpose(2, 0, 1)[None])
    a, b = first.infer(images), second.infer(images)
    assert int(a["num_detections"][0]) > 0
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_bf16_runs_end_to_end(model_onnx, tmp_path, capsys):
    path = _own_copy(model_onnx, tmp_path)
    out = convert(path, "bf16").path
    assert out == str(tmp_path / "model.bf16.onnx") and os.path.samefile(out, path)
    assert json.load(open(out[:-5] + ".json"))["precision"] == "bf16"
    predictor = _close_to_fp32(model_onnx, out, 0.9, "bf16")
    assert predictor.backend.compiled.get_property("INFERENCE_PRECISION_HINT") == openvino.Type.bf16
    capsys.readouterr()
    on_ort = Predictor.from_path(out, backend="onnxruntime")  # the same graph: ONNX Runtime runs it in fp32
    assert on_ort.precision == "fp32"
    assert capsys.readouterr().err.count("note:") == 1


def test_bf16_without_cpu_support_runs_f32(model_onnx, tmp_path, monkeypatch, capsys):
    out = convert(_own_copy(model_onnx, tmp_path), "bf16").path
    monkeypatch.setattr(openvino_backend, "cpu_has_bf16", lambda core: False)
    backend = OpenVINOBackend(out, cache=False)
    assert backend.info["precision"] == "fp32"
    assert backend.compiled.get_property("INFERENCE_PRECISION_HINT") == openvino.Type.f32
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bf16" in err and "f32" in err


def test_int8_runs_end_to_end(model_onnx, tmp_path):
    from mrcnn_edge.precision.calibrate import calibrate

    path = _own_copy(model_onnx, tmp_path)
    cache = calibrate(path, "synthetic", method="minmax", num_images=4, cache_path=str(tmp_path / "calib.json")).cache
    out = convert(path, "int8", cache=cache).path
    _close_to_fp32(model_onnx, out, 0.7, "int8")


def test_backend_selection(model_onnx, tmp_path):
    import onnx

    from mrcnn_edge.surgery.plugins import PLUGIN_DOMAIN

    assert Predictor.from_path(model_onnx).backend_name == "openvino"  # auto, OpenVINO installed
    plugin_graph = onnx.load(model_onnx)
    plugin_graph.opset_import.append(onnx.helper.make_opsetid(PLUGIN_DOMAIN, 1))  # what has_plugin_nodes reads
    onnx.save(plugin_graph, str(tmp_path / "model.trt.onnx"))
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"")
    for path, backend, message in [(str(tmp_path / "model.trt.onnx"), "openvino", "plugin CPU runner"),
                                   (str(engine), "openvino", "runs on TensorRT"),
                                   (model_onnx, "tensorflow", "unknown backend"),
                                   (model_onnx, "openvino:NOSUCH", "no device 'NOSUCH'")]:
        with pytest.raises(UserError, match=message):
            Predictor.from_path(path, backend=backend)


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_run_reports_the_backend(model_onnx, small_video, tmp_path, capsys, backend):
    code = main(["run", "--model", model_onnx, "--source", small_video[0], "--max-frames", "3", "--backend", backend,
                 "--report-dir", str(tmp_path), "--jsonl", str(tmp_path / "d.jsonl")])
    assert code == 0
    assert f"on {backend} fp32" in capsys.readouterr().out
    assert json.load(open(tmp_path / "report.json"))["backend"] == backend


def test_bf16_is_made_from_the_fp32_graph_only(model_onnx, tmp_path):
    path = _own_copy(model_onnx, tmp_path)
    meta = json.load(open(path[:-5] + ".json"))
    int8 = tmp_path / "model.int8.onnx"
    os.link(path, int8)
    json.dump({**meta, "precision": "int8"}, open(tmp_path / "model.int8.json", "w"))
    with pytest.raises(UserError, match="bf16 is made from the fp32 model.onnx"):
        convert(str(int8), "bf16")
    with pytest.raises(UserError, match="its own name"):
        convert(path, "bf16", out=path)
