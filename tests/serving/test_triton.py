"""`export-triton`: repository layout and config.pbtxt, parsed with Triton's own protobuf schema
(tritonclient's model_config_pb2, from the test extras). tests/serving loads the python kind in a real server."""
import json
import os
import re

import pytest

from mrcnn_edge.serving.repository import export_triton
from mrcnn_edge.errors import UserError


def _parse(config_path):
    from google.protobuf import text_format
    from tritonclient.grpc.model_config_pb2 import ModelConfig

    return text_format.Parse(open(config_path).read(), ModelConfig())


def _parameters(config):
    return {k: json.loads(v.string_value) for k, v in config.parameters.items()}


def _fields(config_path):
    """Top-level fields of the config as written (the parse above also accepts defaults left out)."""
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
            "dynamic_batching", "parameters"} == _fields(result.config)
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
    assert _parameters(config) == {"arch": "tiny", "classes": ["circle", "square"], "input_size": [64, 96],
                                   "precision": "fp32", "detections": 5}


def test_python_kind(make_model, tmp_path):
    model = make_model(tmp_path / "model.onnx", batch=1)
    sidecar = json.loads(model.with_suffix(".json").read_text())
    model.with_suffix(".json").write_text(json.dumps({**sidecar, "classes": ['say "hi"', "back\\slash", "café"]}))
    result = export_triton(str(model), str(tmp_path / "repo"), kind="python", name="m", threads=3)
    assert result.platform == "python" and result.max_batch_size == 0
    assert sorted(os.listdir(tmp_path / "repo" / "m" / "1")) == ["model.onnx", "model.py"]
    config = _parse(result.config)
    assert config.backend == "python" and not config.platform and config.instance_group[0].kind == 2  # KIND_CPU
    assert list(config.input[0].dims) == [1, 3, 64, 96] and not config.HasField("dynamic_batching")
    parameters = _parameters(config)
    assert parameters["classes"] == ['say "hi"', "back\\slash", "café"] and parameters["intra_op_threads"] == 3
    model_py = open(tmp_path / "repo" / "m" / "1" / "model.py").read()
    imports = {line.split()[1] for line in model_py.splitlines() if line.startswith(("import ", "from "))}
    assert imports == {"json", "os", "numpy", "onnxruntime", "triton_python_backend_utils"}  # no torch, no mrcnn_edge


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
    first = text.splitlines()[0]
    assert first.startswith("# Needs") and "LD_PRELOAD=/opt/mrcnn/libmrcnn_edge_plugins_autoreg.so" in first
    readme = open(tmp_path / "repo" / "README.txt").read()
    assert "LD_PRELOAD=/opt/mrcnn/libmrcnn_edge_plugins_autoreg.so tritonserver" in readme and "10.3.0" in readme
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
    with pytest.raises(UserError, match="an engine runs on the GPU only"):
        export_triton(str(_engine(tmp_path, None)), str(tmp_path / "repo"), kind="python")
    with pytest.raises(UserError, match="unsupported model file"):
        export_triton(str(tmp_path / "model.pth"), str(tmp_path / "repo"))
