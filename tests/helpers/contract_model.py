"""A tiny graph that obeys the output contract (not a detector): what the build stage and the bundles need to
see, without depending on the real exporter. tests/engine and tests/serving take its fixtures."""
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

K, M, SIZE = 5, 28, (64, 96)


def contract_model(path, batch="B", size=SIZE, precision="fp32", plugin_node=False):
    """images uint8 [batch,3,H,W] -> num_detections, boxes, scores, classes, masks (scores from three
    Convs, so int8 quantisation has a layer to work on: the middle one, since the default keep-float set
    leaves the first conv and the head outputs in float); sidecar JSON beside it."""
    H, W = size
    init = [numpy_helper.from_array(np.full((2, 3, 1, 1), 0.1, np.float32), "w"),
            numpy_helper.from_array(np.full((2, 2, 1, 1), 0.5, np.float32), "w2"),
            numpy_helper.from_array(np.array([0], np.int64), "zero"),
            numpy_helper.from_array(np.array([K], np.int64), "k"),
            numpy_helper.from_array(np.array([K, 4], np.int64), "k4"),
            numpy_helper.from_array(np.array([K, M, M], np.int64), "kmm"),
            numpy_helper.from_array(np.array([1, 2, 3], np.int64), "chw"),
            numpy_helper.from_array(np.array([1], np.int64), "one")]
    nodes = [helper.make_node("Shape", ["images"], ["shape"]),
             helper.make_node("Gather", ["shape", "zero"], ["b"], axis=0),
             helper.make_node("Concat", ["b", "k"], ["bk"], axis=0),
             helper.make_node("Concat", ["b", "k4"], ["bk4"], axis=0),
             helper.make_node("Concat", ["b", "kmm"], ["bkmm"], axis=0),
             helper.make_node("Cast", ["images"], ["x"], to=TensorProto.FLOAT),
             helper.make_node("Conv", ["x", "w"], ["y0"], name="stem"),
             helper.make_node("Conv", ["y0", "w2"], ["y1"], name="conv"),
             helper.make_node("Conv", ["y1", "w2"], ["y"], name="head"),
             helper.make_node("ReduceMean", ["y", "chw"], ["pooled"], keepdims=0),
             helper.make_node("Unsqueeze", ["pooled", "one"], ["pooled1"]),
             helper.make_node("Expand", ["pooled1", "bk"], ["scores"]),
             helper.make_node("ConstantOfShape", ["b"], ["num_detections"],
                              value=numpy_helper.from_array(np.array([K], np.int32))),
             helper.make_node("ConstantOfShape", ["bk4"], ["boxes"],
                              value=numpy_helper.from_array(np.array([1.0], np.float32))),
             helper.make_node("ConstantOfShape", ["bk"], ["classes"],
                              value=numpy_helper.from_array(np.array([1], np.int32))),
             helper.make_node("ConstantOfShape", ["bkmm"], ["masks"],
                              value=numpy_helper.from_array(np.array([0.5], np.float32)))]
    if plugin_node:  # what graph surgery leaves: a node only TensorRT (or our CPU runner) can run
        nodes.append(helper.make_node("BatchedNMS_TRT", ["boxes"], ["unused"], domain="trt.plugins"))
    outputs = [helper.make_tensor_value_info("num_detections", TensorProto.INT32, [batch]),
               helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [batch, K, 4]),
               helper.make_tensor_value_info("scores", TensorProto.FLOAT, [batch, K]),
               helper.make_tensor_value_info("classes", TensorProto.INT32, [batch, K]),
               helper.make_tensor_value_info("masks", TensorProto.FLOAT, [batch, K, M, M])]
    graph = helper.make_graph(nodes, "contract", [helper.make_tensor_value_info("images", TensorProto.UINT8,
                                                                                 [batch, 3, H, W])], outputs, init)
    opsets = [helper.make_opsetid("", 18)] + ([helper.make_opsetid("trt.plugins", 1)] if plugin_node else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 9  # what onnxruntime reads
    onnx.save(model, str(path))
    sidecar = {"arch": "tiny", "classes": ["circle", "square"], "input_size": list(size), "detections": K,
               "mask_size": M, "opset": 18, "checkpoint_sha256": "0" * 64, "precision": precision}
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    return path


@pytest.fixture
def make_model():
    return contract_model


@pytest.fixture
def model_onnx(tmp_path):
    return contract_model(tmp_path / "model.onnx")
