"""contract.check_contract: every consumer of a model holds it to the same rules (names, dtypes, a uint8 input,
[B,3,H,W] with a fixed size, the size the model declares). The engine stage (engine/metadata.py), the ONNX
Runtime and OpenVINO backends and the Triton backend each refuse the same planted bad models, in one line, and
name the same wrong or missing tensors."""
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mrcnn_edge.contract import OUTPUTS, check_contract, graph_io
from mrcnn_edge.errors import UserError
from mrcnn_edge.files import REEXPORT

K, M = 5, 28
DTYPES = {"uint8": TensorProto.UINT8, "int32": TensorProto.INT32, "int64": TensorProto.INT64,
          "float32": TensorProto.FLOAT}
GOOD = {"input": ("images", "uint8", [1, 3, 64, 96]), "size": [64, 96],
        "outputs": {"num_detections": "int32", "boxes": "float32", "scores": "float32", "classes": "int32",
                    "masks": "float32"}}
SHAPES = {"num_detections": [1], "boxes": [1, K, 4], "scores": [1, K], "classes": [1, K], "masks": [1, K, M, M]}


def _plant(name, dtype=None, shape=None, size=None, drop=None, output_dtype=None):
    """GOOD with one thing changed."""
    input_name, input_dtype, input_shape = GOOD["input"]
    outputs = {n: t for n, t in GOOD["outputs"].items() if n != drop}
    if output_dtype:
        outputs.update(output_dtype)
    return {"input": (name or input_name, dtype or input_dtype, shape or input_shape), "size": size or GOOD["size"],
            "outputs": outputs}


PLANTS = {
    "float input": (_plant(None, dtype="float32"), "input images uint8 [B,3,64,96] (is float32 [1,3,64,96])"),
    "input renamed": (_plant("image"), "input images uint8 [B,3,64,96]"),
    "one channel": (_plant(None, shape=[1, 1, 64, 96]), "input images uint8 [B,3,64,96] (is uint8 [1,1,64,96])"),
    "free H, W": (_plant(None, shape=["B", 3, "H", "W"]), "input images uint8 [B,3,64,96] (is uint8 [?,3,?,?])"),
    "not the declared size": (_plant(None, size=[64, 64]), "input images uint8 [B,3,64,64] (is uint8 [1,3,64,96])"),
    "no masks": (_plant(None, drop="masks"), "output masks float32"),
    "int64 classes": (_plant(None, output_dtype={"classes": "int64"}), "output classes int32 (is int64)"),
    "float scores as int32": (_plant(None, output_dtype={"scores": "int32"}), "output scores float32 (is int32)"),
}


def write_model(folder, spec) -> str:
    """A graph with spec's input and outputs (constants: nothing runs it) and a sidecar declaring spec's size."""
    name, dtype, shape = spec["input"]
    nodes = [helper.make_node("Shape", [name], ["unused"])]
    init = []
    for out, out_dtype in spec["outputs"].items():
        init.append(numpy_helper.from_array(np.array(SHAPES[out], np.int64), f"{out}_shape"))
        value = numpy_helper.from_array(np.zeros(1, helper.tensor_dtype_to_np_dtype(DTYPES[out_dtype])))
        nodes.append(helper.make_node("ConstantOfShape", [f"{out}_shape"], [out], value=value))
    graph = helper.make_graph(nodes, "planted", [helper.make_tensor_value_info(name, DTYPES[dtype], shape)],
                              [helper.make_tensor_value_info(o, DTYPES[t], SHAPES[o])
                               for o, t in spec["outputs"].items()], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9  # what onnxruntime reads
    path = folder / "model.onnx"
    onnx.save(model, str(path))
    sidecar = {"arch": "tiny", "classes": ["a"], "input_size": spec["size"], "precision": "fp32", "detections": K,
               "heads": ["mask"]}
    (folder / "model.json").write_text(json.dumps(sidecar))
    return str(path)


class _FakeTritonClient:
    """Answers get_model_metadata as a Triton server serving the model does (its types in Triton's names)."""
    TYPES = {"uint8": "UINT8", "int32": "INT32", "int64": "INT64", "float32": "FP32"}

    def __init__(self, path):
        graph = onnx.load(path).graph
        io = graph_io(graph)
        inputs = {v.name for v in graph.input}
        self.meta = {kind: [{"name": n, "datatype": self.TYPES[t["dtype"]], "shape": [str(d) for d in t["shape"]]}
                            for n, t in io.items() if (n in inputs) == (kind == "inputs")]
                     for kind in ("inputs", "outputs")}

    def get_model_metadata(self, model, version, **_):
        return self.meta


def engine_stage(path):
    from mrcnn_edge.engine.metadata import check_onnx_contract

    check_onnx_contract(path)


def onnxruntime_backend(path):
    from mrcnn_edge.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend

    OnnxRuntimeBackend(path, threads=1)


def openvino_backend(path):
    from helpers import require_module

    require_module("openvino")
    from mrcnn_edge.runtime.backends.openvino_backend import OpenVINOBackend

    OpenVINOBackend(path, threads=1, cache=False)


def triton_backend(path):
    """The Triton backend's check, with the model's config parameters (the sidecar's fields, as export-triton
    writes them) and the server's metadata of it."""
    from mrcnn_edge.runtime.backends.triton_backend import TritonBackend, parse_url

    backend = TritonBackend.__new__(TritonBackend)
    backend.url, backend._as_json, backend._server_error = parse_url("http://127.0.0.1:8000/planted"), {}, OSError
    backend.client = _FakeTritonClient(path)
    with open(path[:-len(".onnx")] + ".json") as f:
        backend.info = json.load(f)
    backend._check_contract()


CONSUMERS = {"engine": engine_stage, "onnxruntime": onnxruntime_backend, "openvino": openvino_backend,
             "triton": triton_backend}
FIXES = (REEXPORT, "serve a repository written by `mrcnn-edge export-triton`")


def _wrong_or_missing(message: str) -> str:
    for fix in FIXES:
        message = message.removesuffix(f": {fix}")
    return message.split("(wrong or missing: ", 1)[1][:-1]


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_every_consumer_takes_a_good_model(tmp_path, consumer):
    CONSUMERS[consumer](write_model(tmp_path, GOOD))


@pytest.mark.parametrize("plant", PLANTS)
def test_every_consumer_refuses_the_same_planted_models_in_one_line(tmp_path, plant):
    spec, named = PLANTS[plant]
    path = write_model(tmp_path, spec)
    found = {}
    for consumer, load in CONSUMERS.items():
        with pytest.raises(UserError) as error:
            load(path)
        message = str(error.value)
        assert "\n" not in message and "is not an mrcnn-edge model" in message, (consumer, message)
        found[consumer] = _wrong_or_missing(message)
    assert set(found.values()) == {named}, found


def test_heads_come_from_the_output_names_unless_declared():
    io = {"images": {"dtype": "uint8", "shape": [-1, 3, 64, 96]},
          **{n: {"dtype": t, "shape": [-1]} for n, t in GOOD["outputs"].items()}}
    assert check_contract(io, "m") == OUTPUTS
    with pytest.raises(UserError, match=r"wrong or missing: output keypoint_heatmaps float32\)$"):
        check_contract(io, "m", heads=("mask", "keypoint"))
    keypoints = {n: t for n, t in io.items() if n != "masks"} | {"keypoint_heatmaps": {"dtype": "float32"}}
    assert check_contract(keypoints, "m", size=(64, 96))[-1] == "keypoint_heatmaps"
