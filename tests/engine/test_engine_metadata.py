"""The .engine.json check that guards deserialisation: pure, so it runs without TensorRT or a GPU."""
import json

import pytest

from mrcnn_edge.engine.metadata import check_engine_metadata, plugin_library, read_engine_metadata
from mrcnn_edge.errors import UserError

HERE = {"tensorrt_version": "10.3.0", "gpu": "Orin", "compute_capability": "8.7", "plugin_sha256": "ab" * 32}


def _meta(**engine):
    return {"arch": "tiny", "classes": ["a"], "input_size": [64, 96], "precision": "fp16",
            "engine": {**HERE, "onnx": "/m/model.fp16.trt.onnx", **engine}}


def test_an_engine_built_here_passes():
    check_engine_metadata(_meta(), HERE)


@pytest.mark.parametrize("key, value, message", [
    ("tensorrt_version", "11.0.0", "built for TensorRT 11.0.0 but this machine has 10.3.0"),
    ("gpu", "NVIDIA H100 80GB HBM3", "built for GPU NVIDIA H100 80GB HBM3 but this machine has Orin"),
    ("compute_capability", "9.0", "built for compute capability 9.0 but this machine has 8.7"),
    ("plugin_sha256", "cd" * 32, "built for plugin library sha256 cdcdcdcdcdcd but this machine has abababababab"),
])
def test_a_mismatch_is_refused_in_one_line_that_says_to_rebuild(key, value, message):
    with pytest.raises(UserError) as e:
        check_engine_metadata(_meta(**{key: value}), HERE, engine="m.engine")
    text = str(e.value)
    assert text.startswith(f"m.engine was {message}") and "\n" not in text
    assert text.endswith("rebuild it here with `mrcnn-edge build --model /m/model.fp16.trt.onnx --precision fp16`")


def test_missing_fields_are_refused():
    meta = _meta()
    del meta["engine"]["plugin_sha256"]
    with pytest.raises(UserError, match="metadata lacks plugin_sha256: rebuild"):
        check_engine_metadata(meta, HERE)
    with pytest.raises(UserError, match="metadata lacks tensorrt_version: rebuild it here with .*--precision fp32"):
        check_engine_metadata({}, HERE)


def test_reading_metadata(tmp_path):
    engine = tmp_path / "model.fp16.engine"
    engine.write_bytes(b"\0")
    with pytest.raises(UserError, match="has no model.fp16.engine.json: rebuild it with `mrcnn-edge build`"):
        read_engine_metadata(str(engine))
    (tmp_path / "model.fp16.engine.json").write_text("{not json")
    with pytest.raises(UserError, match="is not valid JSON: rebuild"):
        read_engine_metadata(str(engine))
    (tmp_path / "model.fp16.engine.json").write_text(json.dumps({"arch": "tiny"}))
    with pytest.raises(UserError, match="is not mrcnn-edge engine metadata"):
        read_engine_metadata(str(engine))
    (tmp_path / "model.fp16.engine.json").write_text(json.dumps(_meta()))
    assert read_engine_metadata(str(engine))["engine"]["gpu"] == "Orin"


def test_plugin_library_lookup(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="plugin library not found: .*cmake -S . -B build/cmake"):
        plugin_library(str(tmp_path / "libmrcnn_edge_plugins.so"))
    library = tmp_path / "libmrcnn_edge_plugins.so"
    library.write_bytes(b"\x7fELF")
    monkeypatch.setenv("MRCNN_EDGE_PLUGINS", str(library))
    assert plugin_library() == str(library)


def test_tensorrt_backend_without_tensorrt(tmp_path):
    from mrcnn_edge.engine.metadata import import_tensorrt
    from mrcnn_edge.runtime.backends.tensorrt_backend import TensorRTBackend

    if import_tensorrt() is not None:
        pytest.skip("TensorRT is installed")
    with pytest.raises(UserError, match="TensorRT is not installed, so an .engine cannot run here"):
        TensorRTBackend(str(tmp_path / "model.fp16.engine"))
