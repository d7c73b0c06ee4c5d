"""The TensorRT build's pure-Python decisions, with a fake `tensorrt` module where the code path is logic
only: everything is checked before the engine is built, a foreign timing cache is replaced, the DLA rules
per release, the cuda-python floor, and `run`/`bench --cuda-graph` reaching the TensorRT backend."""
import ast
import logging
import subprocess
import sys
import types

import pytest
from packaging.requirements import Requirement

from mrcnn_edge.engine.dla import DLA_RULES, check_dla
from mrcnn_edge.errors import UserError


def _fake_tensorrt(version="10.3.0"):
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version

    class Builder:  # building must never start in these tests
        def __init__(self, *a):
            raise AssertionError("the engine build started before its checks")

    trt.Builder = Builder
    trt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, *a: None})
    return trt


@pytest.fixture
def tensorrt_build(monkeypatch):
    """mrcnn_edge.engine.tensorrt_build imported against a fake tensorrt (and dropped again afterwards)."""
    monkeypatch.setitem(sys.modules, "tensorrt", _fake_tensorrt())
    sys.modules.pop("mrcnn_edge.engine.tensorrt_build", None)
    import mrcnn_edge.engine.tensorrt_build as module

    yield module
    sys.modules.pop("mrcnn_edge.engine.tensorrt_build", None)


@pytest.fixture
def no_cuda_python(monkeypatch):
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)  # `from cuda.bindings import runtime` -> ImportError


@pytest.mark.parametrize("version, precision, refused", [
    ("10.3.0", "fp16", None), ("10.3.0", "int8", None), ("10.3.0", "fp32", "runs only fp16/int8 layers"),
    ("10.16.0", "fp32", "runs only fp16/int8"), ("11.0.0", "fp16", "has no DLA support"),
    ("11.3.1", "int8", "has no DLA support"), ("11.4.0", "fp16", None), ("11.4.0", "fp32", "runs only"),
])
def test_dla_rules_per_release(version, precision, refused):
    if refused is None:
        check_dla(version, precision, 0)
    else:
        with pytest.raises(UserError, match=refused) as e:
            check_dla(version, precision, 0)
        assert "\n" not in str(e.value) and "--dla-core" in str(e.value)
    check_dla(version, "fp32", None)  # no DLA asked for: nothing to say
    assert all(rule.source for rule in DLA_RULES)


def test_everything_is_checked_before_the_engine_is_built(tensorrt_build, tmp_path, make_model, no_cuda_python):
    graph = make_model(tmp_path / "model.fp16.trt.onnx", precision="fp16", plugin_node=True)
    with pytest.raises(UserError, match="plugin library not found"):
        tensorrt_build.build_engine(str(graph), "fp16", str(tmp_path), plugins=str(tmp_path / "none.so"),
                                    workspace_mb=64, dla_core=None, timing_cache=None, opt_level=3, max_batch=1)
    library = tmp_path / "libmrcnn_edge_plugins.so"
    library.write_bytes(b"\x7fELF")
    with pytest.raises(UserError, match=r"cuda-python is not installed: pip install 'cuda-python>=12\.6\.1,<13'"):
        tensorrt_build.build_engine(str(graph), "fp16", str(tmp_path), plugins=str(library), workspace_mb=64,
                                    dla_core=None, timing_cache=None, opt_level=3, max_batch=1)
    assert not list(tmp_path.glob("*.engine*"))  # no engine left without its metadata


def test_the_chain_checks_tensorrt_needs_before_exporting(tensorrt_build, tmp_path, monkeypatch):
    from mrcnn_edge import chain

    monkeypatch.setattr(chain, "import_tensorrt", lambda: sys.modules["tensorrt"])
    monkeypatch.setattr(tensorrt_build, "gpu_info", lambda: {"gpu": "Orin", "compute_capability": "8.7"})
    library = tmp_path / "libmrcnn_edge_plugins.so"
    library.write_bytes(b"\x7fELF")
    with pytest.raises(UserError, match="--dla-core with a fp32 graph"):
        chain.build_chain("fp32", out_dir=str(tmp_path / "out"), plugins=str(library), dla_core=0, progress=False)
    assert not (tmp_path / "out").exists()


def test_a_timing_cache_from_another_release_starts_fresh(tensorrt_build, tmp_path, caplog):
    class Config:
        def __init__(self):
            self.set = []

        def create_timing_cache(self, data):  # TensorRT returns None for a cache it cannot read
            return None if data else "fresh"

        def set_timing_cache(self, cache, ignore_mismatch):
            self.set.append(cache)
            return True

    path = tmp_path / "tensorrt.timing.cache"
    path.write_bytes(b"a cache from TensorRT 10.0")
    config = Config()
    with caplog.at_level(logging.WARNING):
        tensorrt_build._use_timing_cache(config, str(path))
    assert config.set == ["fresh"]
    (record,) = caplog.records
    assert "from another TensorRT release or GPU: starting a fresh one" in record.getMessage()


def test_cuda_python_floor_has_cuda_bindings():
    """cuda-python 12.6.0 has no `cuda.bindings` (which engine/cuda.py imports): setup.py must refuse it."""
    tree = ast.parse(open("setup.py").read())
    pins = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and node.value.startswith("cuda-python")]
    assert pins
    for pin in pins:
        spec = Requirement(pin).specifier
        assert "12.6.0" not in spec and "12.6.1" in spec and "13.0" not in spec


def test_cuda_graph_reaches_the_tensorrt_backend(tmp_path, monkeypatch):
    from mrcnn_edge.runtime import predictor as predictor_module
    from mrcnn_edge.runtime.backends import tensorrt_backend

    seen = {}

    class Backend:
        name, info = "tensorrt", {"input_size": [64, 96], "classes": ["a"], "precision": "fp16"}

        def __init__(self, path, cuda_graph=False):
            seen["cuda_graph"] = cuda_graph

    monkeypatch.setattr(tensorrt_backend, "TensorRTBackend", Backend)
    monkeypatch.setattr("mrcnn_edge.engine.metadata.import_tensorrt", lambda: object())
    engine = tmp_path / "model.fp16.engine"
    engine.write_bytes(b"\0")
    predictor_module.Predictor.from_path(str(engine), cuda_graph=True)
    assert seen == {"cuda_graph": True}


@pytest.mark.parametrize("command", ["run", "bench"])
def test_cuda_graph_on_an_onnx_model_is_one_line(model_onnx, command):
    args = ["--model", str(model_onnx), "--cuda-graph"] + (["--source", "0"] if command == "run" else [])
    proc = subprocess.run([sys.executable, "-m", "mrcnn_edge.cli", command, *args], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"mrcnn-edge {command}: error: --cuda-graph replays a TensorRT engine's launches")
