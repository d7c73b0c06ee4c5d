"""`export-triton`: repository layout and config.pbtxt, parsed with Triton's own protobuf schema where
tritonclient is installed (its model_config_pb2 is loaded by path: tritonclient.grpc's __init__ wants grpcio)."""
import importlib.util
import json
import os
import re

import pytest

from mrcnn_edge.engine.triton import export_triton
from mrcnn_edge.errors import UserError


def _model_config():
    """tritonclient's ModelConfig message class, or None where tritonclient is not installed."""
    spec = importlib.util.find_spec("tritonclient")
    if spec is None:
        return None
    path = os.path.join(os.path.dirname(spec.origin), "grpc", "model_config_pb2.py")
    module_spec = importlib.util.spec_from_file_location("triton_model_config_pb2", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.ModelConfig


def _parse(config_path):
    from google.protobuf import text_format

    ModelConfig = _model_config()
    if ModelConfig is None:
        pytest.skip("tritonclient not installed: config checked against the documented fields only")
    return text_format.Parse(open(config_path).read(), ModelConfig())


def _fields(config_path):
    """The schema check that needs no tritonclient: top-level fields of Triton's ModelConfig."""
    text = re.sub(r"#.*", "", open(config_path).read())
    return set(re.findall(r"^(\w+)\s*[:\[{]", text, re.M))


def _engine(tmp_path, batch):
    """An .engine file as `build` leaves it. Its bytes are not an engine: export-triton only copies them."""
    engine = tmp_path / "model.fp16.engine"
    engine.write_bytes(b"opaque: copied, never parsed here")
    B = -1 if batch else 1
    io = {"images": {"dtype": "uint8", "shape": [B, 3, 64, 96]}, "num_detections": {"dtype": "int32", "shape": [B]},
          "boxes": {"dtype": "float32", "shape": [B, 5, 4]}, "scores": {"dtype": "float32", "shape": [B, 5]},
          "classes": {"dtype": "int32", "shape": [B, 5]}, "masks": {"dtype": "float32", "shape": [B, 5, 28, 28]}}
    meta = {"arch": "tiny", "classes": ["circle"], "input_size": [64, 96], "precision": "fp16", "detections": 5,
            "engine": {"tensorrt_version": "10.3.0", "gpu": "Orin", "compute_capability": "8.7",
                       "plugin_library": "/opt/mrcnn/libmrcnn_edge_plugins.so", "plugin_sha256": "ab" * 32,
                       "batch": batch, "io": io}}
    (tmp_path / "model.fp16.engine.json").write_text(json.dumps(meta))
    return engine


def test_onnx_with_dynamic_batch(model_onnx, tmp_path):
    repo = tmp_path / "repo"
    result = export_triton(str(model_onnx), str(repo), instances=2)
    assert sorted(os.listdir(repo)) == ["README.txt", "model_fp32"]
    assert sorted(os.listdir(repo / "model_fp32")) == ["1", "config.pbtxt", "mrcnn_edge.json"]
    assert os.listdir(repo / "model_fp32" / "1") == ["model.onnx"]
    assert result.platform == "onnxruntime_onnx" and result.max_batch_size == 8
    assert {"name", "platform", "max_batch_size", "input", "output", "instance_group",
            "dynamic_batching"} == _fields(result.config)
    config = _parse(result.config)
    assert config.name == "model_fp32" and config.platform == "onnxruntime_onnx" and config.max_batch_size == 8
    (images,) = config.input
    assert images.name == "images" and list(images.dims) == [3, 64, 96] and images.data_type == 2  # TYPE_UINT8
    outputs = {o.name: o for o in config.output}
    assert list(outputs) == ["num_detections", "boxes", "scores", "classes", "masks"]
    assert list(outputs["num_detections"].dims) == [1] and list(outputs["num_detections"].reshape.shape) == []
    assert outputs["num_detections"].data_type == 8 and outputs["classes"].data_type == 8  # TYPE_INT32
    assert list(outputs["masks"].dims) == [5, 28, 28] and outputs["masks"].data_type == 11  # TYPE_FP32
    assert config.instance_group[0].count == 2 and config.instance_group[0].kind == 2  # KIND_CPU
    assert config.HasField("dynamic_batching")


def test_onnx_with_fixed_batch_has_full_dims_and_no_batching(make_model, tmp_path):
    model = make_model(tmp_path / "model.onnx", batch=1)
    result = export_triton(str(model), str(tmp_path / "repo"), kind="gpu")
    assert result.max_batch_size == 0 and "dynamic_batching" not in _fields(result.config)
    config = _parse(result.config)
    assert config.max_batch_size == 0 and list(config.input[0].dims) == [1, 3, 64, 96]
    assert [list(o.dims) for o in config.output][0] == [1] and not config.output[0].HasField("reshape")
    assert config.instance_group[0].kind == 1  # KIND_GPU


@pytest.mark.parametrize("batch, max_batch_size", [({"min": 1, "opt": 1, "max": 4}, 4), (None, 0)])
def test_engine(tmp_path, batch, max_batch_size):
    result = export_triton(str(_engine(tmp_path, batch)), str(tmp_path / "repo"))
    model_dir = tmp_path / "repo" / "model_fp16"
    assert os.listdir(model_dir / "1") == ["model.plan"] and result.max_batch_size == max_batch_size
    text = open(result.config).read()
    assert "LD_PRELOAD=/opt/mrcnn/libmrcnn_edge_plugins.so" in text.splitlines()[1] and text.startswith("# Needs")
    readme = open(tmp_path / "repo" / "README.txt").read()
    assert "LD_PRELOAD=/opt/mrcnn/libmrcnn_edge_plugins.so tritonserver" in readme and "10.3.0" in readme
    config = _parse(result.config)
    assert config.platform == "tensorrt_plan" and config.max_batch_size == max_batch_size
    assert config.instance_group[0].kind == 1
    assert json.load(open(model_dir / "mrcnn_edge.json"))["classes"] == ["circle"]


def test_refusals(make_model, tmp_path):
    plugin_graph = make_model(tmp_path / "model.trt.onnx", plugin_node=True)
    with pytest.raises(UserError, match="has TensorRT plugin nodes \\(BatchedNMS_TRT\\)"):
        export_triton(str(plugin_graph), str(tmp_path / "repo"))
    with pytest.raises(UserError, match="an engine runs on the GPU only"):
        export_triton(str(_engine(tmp_path, None)), str(tmp_path / "repo"), kind="cpu")
    with pytest.raises(UserError, match="unsupported model file"):
        export_triton(str(tmp_path / "model.pth"), str(tmp_path / "repo"))
