"""`mrcnn-edge check`: each kind of violation, planted in a small graph, is named by its rule; a clean
graph passes; the release data (opset, operators) decide per TensorRT release."""
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mrcnn_edge.check.checker import check, check_model
from mrcnn_edge.check.rules import RELEASES, RULES, operator_table, release_for
from mrcnn_edge.errors import UserError

F, U8 = TensorProto.FLOAT, TensorProto.UINT8


def _const(name, value, dtype=None):
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def _model(nodes, inits=(), inputs=None, outputs=None, opset=18, ir=10, functions=(), extra_opsets=()):
    """images uint8 [1,3,8,8] -> Cast -> x (float) -> `nodes` -> y (float)."""
    inputs = inputs or [helper.make_tensor_value_info("images", U8, [1, 3, 8, 8])]
    outputs = outputs or [helper.make_tensor_value_info("y", F, None)]
    cast = [helper.make_node("Cast", ["images"], ["x"], to=F, name="cast")] if inputs[0].name == "images" else []
    graph = helper.make_graph(cast + list(nodes), "g", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), *extra_opsets],
                              functions=list(functions))
    model.ir_version = ir
    return model


def _conv(x="x", y="y", w="w", name="conv"):
    return helper.make_node("Conv", [x, w], [y], name=name)


W = _const("w", np.full((2, 3, 1, 1), 0.5, np.float32))


def _rules(model, tensorrt="10.3"):
    return {(v.node, v.rule) for v in check_model(model, "m.onnx", tensorrt).violations}


def _qdq(zero_point=0, zp_dtype=np.int8, scale=0.1, dq_input_dtype=None):
    """x -> Q -> DQ -> Conv; the knobs plant one Q/DQ violation each."""
    inits = [W, _const("s", np.float32(scale) if np.ndim(scale) == 0 else np.asarray(scale, np.float32)),
             _const("zp", np.asarray(zero_point, zp_dtype))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["xq"], name="q"),
             helper.make_node("DequantizeLinear", ["xq", "s", "zp"], ["xd"], name="dq"), _conv("xd")]
    if dq_input_dtype is not None:  # a bias-style DQ of an INT32 initializer (what QuantizeBias makes)
        inits += [_const("b_q", np.zeros(2, dq_input_dtype)), _const("b_s", np.float32(0.1)),
                  _const("b_zp", np.zeros((), dq_input_dtype))]
        nodes = [*nodes[:2], helper.make_node("DequantizeLinear", ["b_q", "b_s", "b_zp"], ["b"], name="bias_dq"),
                 helper.make_node("Conv", ["xd", "w", "b"], ["y"], name="conv")]
    return _model(nodes, inits)


def test_a_clean_graph_passes_every_release():
    for release in RELEASES:
        result = check_model(_qdq(), "m.onnx", release)
        assert result.ok, result.lines()
        assert result.summary().startswith(f"m.onnx passes TensorRT {release}'s")


@pytest.mark.parametrize("model, expected", [
    (lambda: _qdq(dq_input_dtype=np.int32), {("bias_dq", "qdq-input-type")}),
    (lambda: _qdq(zp_dtype=np.uint8, zero_point=128), {("q", "qdq-input-type"), ("dq", "qdq-input-type"),
                                                       ("q", "qdq-zero-point"), ("dq", "qdq-zero-point")}),
    (lambda: _qdq(zero_point=3), {("q", "qdq-zero-point"), ("dq", "qdq-zero-point")}),
    (lambda: _qdq(scale=-0.1), {("q", "qdq-scale"), ("dq", "qdq-scale")}),
    (lambda: _qdq(scale=[0.1, 0.2, 0.3]), {("q", "qdq-per-channel"), ("dq", "qdq-per-channel")}),
], ids=["int32-bias-dq", "uint8-asymmetric", "nonzero-zero-point", "negative-scale", "per-channel-activation"])
def test_qdq_violations_are_named(model, expected):
    assert _rules(model()) == expected


def test_per_channel_on_weights_is_allowed():
    inits = [_const("w_f", np.full((2, 3, 1, 1), 0.5, np.float32)), _const("ws", [0.1, 0.2], np.float32),
             _const("wzp", np.zeros(2, np.int8))]
    nodes = [helper.make_node("QuantizeLinear", ["w_f", "ws", "wzp"], ["wq"], name="wq", axis=0),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wzp"], ["w"], name="wdq", axis=0), _conv()]
    assert _rules(_model(nodes, inits)) == set()


def test_a_scale_computed_at_run_time_is_refused():
    nodes = [helper.make_node("ReduceMax", ["x"], ["s"], keepdims=0, name="max"),
             helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["xq"], name="q"),
             helper.make_node("DequantizeLinear", ["xq", "s2", "zp"], ["xd"], name="dq"), _conv("xd")]
    model = _model(nodes, [W, _const("zp", np.zeros((), np.int8)), _const("s2", np.float32(0.1))])
    assert _rules(model) == {("q", "qdq-scale")}


def _topk(k, sorted_=1):
    inits = [W] + ([_const("k", np.array([k], np.int64))] if k is not None else [])
    nodes = [_conv(y="c"), helper.make_node("Flatten", ["c"], ["flat"], name="flat")]
    if k is None:  # K from the data: Shape -> Gather
        nodes += [helper.make_node("Shape", ["flat"], ["shape"], name="shape"),
                  helper.make_node("Slice", ["shape", "one", "two"], ["k"], name="kslice")]
        inits += [_const("one", np.array([1], np.int64)), _const("two", np.array([2], np.int64))]
    nodes.append(helper.make_node("TopK", ["flat", "k"], ["y", "i"], name="topk", sorted=sorted_))
    return _model(nodes, inits)


@pytest.mark.parametrize("k, sorted_, found", [(100, 1, False), (3840, 1, False), (3841, 1, True),
                                               (None, 1, True), (10, 0, True)])
def test_topk_k_is_a_constant_within_the_limit(k, sorted_, found):
    assert _rules(_topk(k, sorted_)) == ({("topk", "topk-k")} if found else set())


def test_unsupported_op_and_unsupported_input_type():
    bern = _model([_conv(y="c"), helper.make_node("Bernoulli", ["c"], ["y"], name="bern")], [W])
    assert "Bernoulli" in operator_table()["unsupported"]
    assert _rules(bern) == {("bern", "op-unsupported")}
    ints = [helper.make_tensor_value_info("ids", TensorProto.INT32, [1, 3, 8, 8])]
    resize = _model([helper.make_node("Resize", ["ids", "", "scales"], ["y"], name="resize")],
                    [_const("scales", np.ones(4, np.float32))], inputs=ints,
                    outputs=[helper.make_tensor_value_info("y", TensorProto.INT32, None)])
    assert _rules(resize) == {("resize", "op-dtype")}


def test_network_inputs_a_strongly_typed_network_takes():
    double = [helper.make_tensor_value_info("d", TensorProto.DOUBLE, [1, 3, 8, 8])]
    model = _model([helper.make_node("Cast", ["d"], ["x"], to=F, name="c"), _conv()], [W], inputs=double)
    assert _rules(model) == {("d", "input-dtype"), ("c", "op-dtype")}  # Cast takes no DOUBLE either
    raw = _model([helper.make_node("Add", ["images", "images"], ["s"], name="add"), _conv()], [W])
    assert ("add", "input-dtype") in _rules(raw)


def _plugin_model(categories=TensorProto.INT32, **attrs):
    fields = dict(iou_threshold=0.5, score_threshold=0.05, max_output=10, plugin_version="1",
                  plugin_namespace="mrcnn_edge")
    fields.update(attrs)
    fields = {k: v for k, v in fields.items() if v is not None}
    inputs = [helper.make_tensor_value_info("boxes", F, [1, 20, 4]), helper.make_tensor_value_info("scores", F, [1, 20]),
              helper.make_tensor_value_info("cats", categories, [1, 20])]
    node = helper.make_node("BatchedNMS_TRT", ["boxes", "scores", "cats"], ["n", "idx", "ob", "y", "cls"],
                            domain="trt.plugins", name="nms", **fields)
    return _model([node], inputs=inputs, extra_opsets=[helper.make_opsetid("trt.plugins", 1)])


@pytest.mark.parametrize("change, rule", [
    ({}, None), ({"plugin_version": "2"}, "plugin"), ({"plugin_namespace": "other"}, "plugin"),
    ({"max_output": None}, "plugin"), ({"extra": 1}, "plugin"),
    ({"categories": TensorProto.INT64}, "int64-where-int32"),
])
def test_plugin_nodes_against_the_creators_field_table(change, rule):
    assert _rules(_plugin_model(**change)) == ({("nms", rule)} if rule else set())


def test_unknown_plugin_op_is_named():
    node = helper.make_node("Frobnicate_TRT", ["x"], ["y"], domain="trt.plugins", name="frob")
    assert _rules(_model([node], extra_opsets=[helper.make_opsetid("trt.plugins", 1)])) == {("frob", "plugin")}


def test_local_function_calls_say_surgery_is_needed():
    body = helper.make_function("mrcnn_edge.regions", "BatchedNMS", ["a"], ["b"],
                                [helper.make_node("Identity", ["a"], ["b"])], [helper.make_opsetid("", 18)])
    model = _model([_conv(y="c"), helper.make_node("BatchedNMS", ["c"], ["y"], domain="mrcnn_edge.regions",
                                                   name="call")], [W], functions=[body],
                   extra_opsets=[helper.make_opsetid("mrcnn_edge.regions", 1)])
    (violation,) = check_model(model, "m.onnx").violations
    assert (violation.node, violation.rule) == ("call", "local-function")
    assert "model.onnx is the CPU graph" in violation.line() and "`mrcnn-edge surgery`" in violation.line()


def test_ir_version_and_opset_ranges_per_release():
    assert _rules(_model([_conv()], [W], ir=14)) == {("model", "ir-version")}
    assert _rules(_model([_conv()], [W], ir=13), "11.x") == set()
    newer = _model([_conv()], [W], opset=21, ir=10)
    assert _rules(newer, "10.3") == {("model", "opset")} and _rules(newer, "11.x") == set()


def test_every_rule_cites_a_source_and_the_releases():
    assert all(rule.source and rule.fix for rule in RULES.values())
    assert release_for("10.3.0.30") == "10.3" and release_for("10.8.0") == "10.x" and release_for("11.1.0") == "11.x"
    source = operator_table()["source"]
    assert source["ref"] == "10.1-GA" and len(source["commit"]) == 40
    with pytest.raises(UserError, match="unknown TensorRT release '9.0'"):
        check_model(_model([_conv()], [W]), "m.onnx", "9.0")


def test_cli_exit_codes_and_one_line_per_violation(tmp_path):
    good, bad = tmp_path / "good.onnx", tmp_path / "bad.onnx"
    onnx.save(_qdq(), good)
    onnx.save(_qdq(zero_point=3), bad)
    run = lambda *a: subprocess.run([sys.executable, "-m", "mrcnn_edge.cli", "check", *a], capture_output=True,
                                    text=True, timeout=120)
    ok = run(str(good), "--tensorrt", "11.x")
    assert ok.returncode == 0 and "passes TensorRT 11.x's" in ok.stdout
    fail = run(str(bad))
    assert fail.returncode == 1 and "Traceback" not in fail.stderr
    assert fail.stdout.splitlines() == [
        "q: qdq-zero-point: zero point zp is not all zero; fix: " + RULES["qdq-zero-point"].fix,
        "dq: qdq-zero-point: zero point zp is not all zero; fix: " + RULES["qdq-zero-point"].fix]
    missing = run(str(tmp_path / "nope.onnx"))
    assert missing.returncode == 2 and missing.stderr.startswith("mrcnn-edge check: error: model not found")
    assert check(str(good)).ok


def test_10_3_is_the_strictest_release():
    """tests/check/test_toolkit_graphs.py holds the large graphs to 10.3 alone on the strength of this."""
    strict = RELEASES["10.3"]
    for release in RELEASES.values():
        assert release.ir_version[0] <= strict.ir_version[0] and release.ir_version[1] >= strict.ir_version[1]
        assert release.opset[0] <= strict.opset[0] and release.opset[1] >= strict.opset[1]
        assert set(strict.added_operators) <= set(release.added_operators)
        assert (release.quantized_types, release.network_input_types, release.topk_max) == \
            (strict.quantized_types, strict.network_input_types, strict.topk_max)
