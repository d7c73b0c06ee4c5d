"""`build` on a machine without TensorRT: the ONNX Runtime model of the precision, and one line saying so."""
import json
import sys

import numpy as np
import onnx
import pytest

from mrcnn_edge.engine.build import build, tensorrt_graph
from mrcnn_edge.names import model_stem
from mrcnn_edge.contract import check_contract
from mrcnn_edge.engine.metadata import import_tensorrt, onnx_io
from mrcnn_edge.errors import UserError
from mrcnn_edge.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend

no_tensorrt = pytest.mark.skipif(import_tensorrt() is not None, reason="TensorRT is installed: builds an engine")


def _runs(path):
    """The built model loads in the ONNX Runtime backend and keeps the contract."""
    out = OnnxRuntimeBackend(str(path), threads=1).infer(np.full((1, 3, 64, 96), 128, np.uint8))
    assert out["masks"].shape == (1, 5, 28, 28) and out["num_detections"].dtype == np.int32
    return out


@no_tensorrt
def test_fp32_builds_the_onnxruntime_model(model_onnx):
    result = build(str(model_onnx), "fp32")
    assert result.backend == "cpu" and result.precision == result.requested == "fp32"
    assert result.path == str(model_onnx.parent / "model.fp32.onnx")
    assert json.load(open(result.metadata))["precision"] == "fp32"
    assert "\n" not in result.summary() and result.summary().startswith("TensorRT not found: built the CPU")
    _runs(result.path)


@no_tensorrt
def test_fp16_falls_back_to_fp32_and_says_why(model_onnx, tmp_path):
    result = build(str(model_onnx), "fp16", out_dir=str(tmp_path / "out"))
    assert (result.precision, result.requested) == ("fp32", "fp16")
    assert result.path == str(tmp_path / "out" / "model.fp32.onnx")
    assert "fp16 measured slower than fp32 on CPUs" in result.summary() and "\n" not in result.summary()
    _runs(result.path)


@no_tensorrt
def test_bf16_builds_the_openvino_artifact(model_onnx, tmp_path):
    """bf16 is a CPU precision: the fp32 graph under a sidecar saying bf16, which OpenVINO runs in bf16."""
    result = build(str(model_onnx), "bf16", out_dir=str(tmp_path / "out"))
    assert (result.backend, result.precision, result.requested) == ("cpu", "bf16", "bf16")
    assert result.path == str(tmp_path / "out" / "model.bf16.onnx") and "OpenVINO in bf16" in result.summary()
    assert json.load(open(tmp_path / "out" / "model.bf16.json"))["precision"] == "bf16"
    assert onnx.load(result.path).graph == onnx.load(str(model_onnx)).graph  # the graph itself is unchanged


@no_tensorrt
def test_int8_without_a_calibration_cache_says_how_to_make_one(model_onnx):
    with pytest.raises(UserError, match="calibration cache not found.*mrcnn-edge calibrate"):
        build(str(model_onnx), "int8")


@no_tensorrt
def test_int8_quantises_with_the_calibration_cache(model_onnx):
    from mrcnn_edge.precision.calibrate import calibrate

    cache = calibrate(str(model_onnx), "synthetic", "minmax", num_images=2).cache
    result = build(str(model_onnx), "int8", calibration=cache)
    assert result.precision == "int8" and result.path.endswith("model.int8.onnx")
    assert json.load(open(result.metadata))["precision"] == "int8"
    assert any(n.op_type == "DequantizeLinear" for n in onnx.load(result.path).graph.node)
    _runs(result.path)


@no_tensorrt
@pytest.mark.parametrize("name, precision, plugin", [("model.trt.onnx", "fp32", True),
                                                      ("model.fp16.onnx", "fp16", False)])
def test_without_tensorrt_only_the_fp32_export_is_a_source(tmp_path, make_model, name, precision, plugin):
    model = make_model(tmp_path / name, precision=precision, plugin_node=plugin)
    with pytest.raises(UserError, match="starts from the fp32 export model.onnx"):
        build(str(model), "fp32")


def test_bad_arguments_are_one_line_errors(model_onnx, tmp_path):
    with pytest.raises(UserError, match="unknown precision 'fp8'"):
        build(str(model_onnx), "fp8")
    with pytest.raises(UserError, match="model not found"):
        build(str(tmp_path / "nope.onnx"), "fp32")


def test_contract_is_checked(tmp_path):
    from onnx import TensorProto, helper, save

    graph = helper.make_graph([helper.make_node("Identity", ["images"], ["boxes"])], "g",
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 3, 8, 8])])
    save(helper.make_model(graph), str(tmp_path / "bad.onnx"))
    with pytest.raises(UserError, match="not an mrcnn-edge model.*images uint8"):
        check_contract(onnx_io(str(tmp_path / "bad.onnx")), "bad.onnx")


def test_model_stem():
    for name in ("model.onnx", "model.trt.onnx", "model.fp16.trt.onnx", "model.int8.onnx", "/a/b/model.fp32.onnx",
                 "model.fp16.engine"):
        assert model_stem(name) == "model"


def test_tensorrt_graph_is_the_plugin_graph_of_that_precision(tmp_path, make_model):
    model = make_model(tmp_path / "model.onnx")
    with pytest.raises(UserError, match="model.fp16.trt.onnx not found.*`mrcnn-edge build --model model.onnx --precision fp16` makes it"):
        tensorrt_graph(str(model), "fp16")
    make_model(tmp_path / "model.fp16.trt.onnx", precision="fp16", plugin_node=True)
    assert tensorrt_graph(str(model), "fp16") == str(tmp_path / "model.fp16.trt.onnx")
    make_model(tmp_path / "model.trt.onnx", plugin_node=True)
    with pytest.raises(UserError, match="is a fp32 graph: a int8 engine needs .*model.int8.trt.onnx"):
        tensorrt_graph(str(tmp_path / "model.trt.onnx"), "int8")


def test_stub_only_tensorrt_counts_as_not_installed(tmp_path, monkeypatch):
    """tensorrt-stubs installs tensorrt/__init__.pyi: `import tensorrt` then succeeds as an empty namespace."""
    (tmp_path / "tensorrt").mkdir()
    (tmp_path / "tensorrt" / "__init__.pyi").write_text("class Builder: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tensorrt", raising=False)
    assert import_tensorrt() is None
