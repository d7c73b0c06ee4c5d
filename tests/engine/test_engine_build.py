"""The engine stage alone: `build` makes TensorRT engines only (without TensorRT one line naming `mrcnn-edge
build`, which makes the CPU model: tests/engine/test_chain.py), from the plugin graph of that precision."""
import os
import sys
import types

import pytest

import mrcnn_edge.engine.build as engine_build
from mrcnn_edge.engine.build import BuildResult, build, tensorrt_graph
from mrcnn_edge.names import model_stem
from mrcnn_edge.contract import check_contract
from mrcnn_edge.engine.metadata import import_tensorrt, onnx_io
from mrcnn_edge.errors import UserError

no_tensorrt = pytest.mark.skipif(import_tensorrt() is not None, reason="TensorRT is installed: builds an engine")


@no_tensorrt
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8", "bf16"])
def test_without_tensorrt_build_says_which_command_makes_the_cpu_model(model_onnx, precision):
    with pytest.raises(UserError, match=f"TensorRT not found: `build` makes TensorRT engines only; `mrcnn-edge "
                                        f"build --model model.onnx --precision {precision}` builds the CPU model") as e:
        build(str(model_onnx), precision)
    assert "\n" not in str(e.value)
    assert not [p for p in os.listdir(model_onnx.parent) if p != "model.onnx" and p != "model.json"]  # nothing made


@pytest.fixture
def fake_tensorrt(monkeypatch):
    """`build` where TensorRT is found: a fake builder records the graph handed to it."""
    handed = []

    def build_engine(graph, precision, out_dir, **options):
        handed.append((graph, precision, out_dir))
        return BuildResult.of_engine(os.path.join(out_dir, f"{model_stem(graph)}.{precision}.engine"), precision, 1.0)

    builder = types.ModuleType("mrcnn_edge.engine.tensorrt_build")
    builder.build_engine = build_engine
    monkeypatch.setitem(sys.modules, "mrcnn_edge.engine.tensorrt_build", builder)
    monkeypatch.setattr(engine_build, "import_tensorrt", lambda: types.SimpleNamespace(__version__="10.3.0"))
    return handed


def test_with_tensorrt_build_hands_the_plugin_graph_to_the_builder(tmp_path, make_model, fake_tensorrt):
    model = make_model(tmp_path / "model.onnx")
    make_model(tmp_path / "model.fp16.trt.onnx", precision="fp16", plugin_node=True)
    result = build(str(model), "fp16", out_dir=str(tmp_path / "out"))
    assert fake_tensorrt == [(str(tmp_path / "model.fp16.trt.onnx"), "fp16", str(tmp_path / "out"))]
    assert (result.backend, result.path, result.metadata) == ("tensorrt", str(tmp_path / "out" / "model.fp16.engine"),
                                                             str(tmp_path / "out" / "model.fp16.engine.json"))
    assert result.summary().startswith(f"built {result.path} (TensorRT, fp16) in 1.0 s")
    with pytest.raises(UserError, match="bf16 is a CPU precision"):
        build(str(model), "bf16")
    assert len(fake_tensorrt) == 1


def test_the_engine_stage_builds_engines_only():
    """The CPU model is the chain's (CPU_ARTIFACTS in mrcnn_edge/chain.py): engine/ imports no precision/."""
    from test_imports import import_graph

    assert not [(m, d) for m, deps in import_graph().items() if m.startswith("mrcnn_edge.engine")
                for d in deps if d.startswith("mrcnn_edge.precision")]


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
