"""`mrcnn-edge check`: apply the rules of rules.py to a graph, without TensorRT.

Each rule in RULES has one small function here that walks the graph and reports violations; the
values it compares against (opset ranges, operator table, type lists, limits) are the release's data.
Types come from ONNX shape inference, with the plugin ops' schemas registered, so every tensor
(plugin outputs included) has a type.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from ..errors import UserError
from ..files import read_onnx
from .rules import DEFAULT_RELEASE, RELEASES, RULES, Release, operator_table

# ONNX element type -> the names operators.md uses
TYPE_NAMES: dict[int, str] = {TensorProto.FLOAT: "FP32", TensorProto.FLOAT16: "FP16", TensorProto.BFLOAT16: "BF16",
              TensorProto.INT32: "INT32", TensorProto.INT64: "INT64", TensorProto.INT8: "INT8",
              TensorProto.UINT8: "UINT8", TensorProto.BOOL: "BOOL", TensorProto.DOUBLE: "DOUBLE",
              TensorProto.FLOAT8E4M3FN: "FP8", TensorProto.INT4: "INT4", TensorProto.INT16: "INT16",
              TensorProto.UINT16: "UINT16", TensorProto.UINT32: "UINT32", TensorProto.UINT64: "UINT64",
              TensorProto.STRING: "STRING"}
FLOATS = ("FP32", "FP16", "BF16")
QDQ = ("QuantizeLinear", "DequantizeLinear")
STANDARD_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class Violation:
    node: str
    rule: str
    message: str

    def line(self) -> str:
        return f"{self.node}: {self.rule}: {self.message}; fix: {RULES[self.rule].fix}"


@dataclass
class CheckResult:
    path: str
    tensorrt: str
    nodes: int
    violations: list[Violation] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.violations

    def lines(self) -> list[str]:
        return [v.line() for v in self.violations]

    def summary(self) -> str:
        if self.ok:
            return (f"{self.path} passes TensorRT {self.tensorrt}'s parser and strongly typed rules "
                    f"({len(RULES)} rules, {self.nodes} nodes)")
        rules = sorted({v.rule for v in self.violations})
        return f"{self.path}: {len(self.violations)} violations of TensorRT {self.tensorrt}'s rules ({', '.join(rules)})"


class _Graph:
    """The model with what the rules ask about it: types, constants, producers and consumers."""

    def __init__(self, model: onnx.ModelProto):
        from ..surgery.schemas import register_plugin_schemas

        register_plugin_schemas()
        try:
            model = onnx.shape_inference.infer_shapes(model)
        except Exception:  # an unparseable graph still gets the rules that need no types
            pass
        self.model, graph = model, model.graph
        self.nodes = list(graph.node)
        self.initializers = {t.name: t for t in graph.initializer}
        self.types = {v.name: v.type.tensor_type.elem_type for v in (*graph.value_info, *graph.input, *graph.output)}
        self.types.update({t.name: t.data_type for t in graph.initializer})
        self.producer = {o: n for n in self.nodes for o in n.output}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.nodes:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.functions = {(f.domain, f.name) for f in model.functions}
        versions = {o.domain: o.version for o in model.opset_import}
        self.opset = versions.get("", versions.get("ai.onnx"))

    def type_name(self, tensor: str) -> str | None:
        return TYPE_NAMES.get(self.types.get(tensor, 0))

    def constant(self, tensor: str) -> np.ndarray | None:
        """The value of a build-time constant: an initializer, a Constant node, or either through a Cast."""
        if tensor in self.initializers:
            return numpy_helper.to_array(self.initializers[tensor])
        node = self.producer.get(tensor)
        if node is not None and node.op_type == "Constant":
            return next((numpy_helper.to_array(a.t) for a in node.attribute if a.name == "value"), None)
        if node is not None and node.op_type == "Cast":
            return self.constant(node.input[0])
        return None

    def is_weight(self, tensor: str) -> bool:
        """Rooted at a constant (TensorRT's IConstantLayer), possibly through the Q of a Q/DQ pair."""
        node = self.producer.get(tensor)
        if node is not None and node.op_type == "QuantizeLinear":
            return self.constant(node.input[0]) is not None
        return self.constant(tensor) is not None


def _name(node: onnx.NodeProto) -> str:
    return node.name or f"<{node.op_type} -> {node.output[0] if node.output else '?'}>"


def _ir_version(g: _Graph, release: Release) -> Iterator[Violation]:
    low, high = release.ir_version
    if not low <= g.model.ir_version <= high:
        yield Violation("model", "ir-version", f"IR version {g.model.ir_version}, TensorRT {release.name} reads "
                                               f"{low}..{high}")


def _opset(g: _Graph, release: Release) -> Iterator[Violation]:
    low, high = release.opset
    if g.opset is None or not low <= g.opset <= high:
        yield Violation("model", "opset", f"opset {g.opset}, TensorRT {release.name} supports {low}..{high}")


def _standard_nodes(g: _Graph) -> Iterator[onnx.NodeProto]:
    return (n for n in g.nodes if n.domain in STANDARD_DOMAINS)


def _operators(g: _Graph, release: Release) -> Iterator[Violation]:
    supported = set(operator_table()["operators"]) | set(release.added_operators)
    for node in _standard_nodes(g):
        if node.op_type not in supported:
            yield Violation(_name(node), "op-unsupported", f"{node.op_type} has no TensorRT {release.name} importer")


def _data_inputs(g: _Graph, node: onnx.NodeProto) -> list[str]:
    """The inputs of the operator's main type constraint (its 'Supported Types' in operators.md): those
    typed like its first output, else like its first input. Shapes, indices, K and axes are not data."""
    try:
        schema = onnx.defs.get_schema(node.op_type, g.opset or 18, "")
    except onnx.defs.SchemaError:
        return []
    formal = [p.type_str for p in schema.inputs]
    main = schema.outputs[0].type_str if schema.outputs else None
    if main not in formal:
        main = formal[0] if formal else None
    names = []
    for i, name in enumerate(node.input):
        param = formal[min(i, len(formal) - 1)] if formal else None  # the last formal parameter may be variadic
        if name and param == main:
            names.append(name)
    return names


def _dtypes(g: _Graph, release: Release) -> Iterator[Violation]:
    table = operator_table()["operators"]
    for node in _standard_nodes(g):
        if node.op_type in QDQ or node.op_type not in table or not table[node.op_type]:
            continue
        allowed = table[node.op_type]
        for tensor in _data_inputs(g, node):
            dtype = g.type_name(tensor)
            if dtype is None or dtype in allowed:
                continue
            if dtype == "INT64" and "INT32" in allowed:
                yield Violation(_name(node), "int64-where-int32", f"{node.op_type} input {tensor} is INT64; "
                                                                  f"TensorRT takes {', '.join(allowed)}")
            else:
                yield Violation(_name(node), "op-dtype", f"{node.op_type} input {tensor} is {dtype}; "
                                                         f"TensorRT takes {', '.join(allowed)}")


def _plugin_input_types(g: _Graph) -> Iterator[Violation]:
    """Plugin inputs typed as the plugin's ONNX schema says (e.g. NMS categories INT32)."""
    for node in g.nodes:
        if node.domain in STANDARD_DOMAINS or (node.domain, node.op_type) in g.functions:
            continue
        try:
            schema = onnx.defs.get_schema(node.op_type, 1, node.domain)
        except onnx.defs.SchemaError:
            continue  # an unknown plugin: the plugin rule names it
        for i, tensor in enumerate(node.input):
            param = schema.inputs[min(i, len(schema.inputs) - 1)]
            fixed = param.type_str.removeprefix("tensor(").removesuffix(")")
            if param.type_str.startswith("tensor(") and g.types.get(tensor) not in (None, 0):
                want = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(fixed))
                if g.types[tensor] != want:
                    rule = "int64-where-int32" if (g.type_name(tensor), TYPE_NAMES[want]) == ("INT64", "INT32") \
                        else "op-dtype"
                    yield Violation(_name(node), rule, f"{node.op_type} input {tensor} is {g.type_name(tensor)}; "
                                                       f"the plugin takes {TYPE_NAMES[want]}")


def _quantized_type(g: _Graph, node: onnx.NodeProto) -> str | None:
    """The INT8/FP8/INT4 side of a Q or DQ node: DQ's input, Q's output (its zero point's type, else UINT8)."""
    if node.op_type == "DequantizeLinear":
        return g.type_name(node.input[0])
    if len(node.input) > 2 and node.input[2]:
        return g.type_name(node.input[2])
    to = next((a.i for a in node.attribute if a.name == "output_dtype" and a.i), TensorProto.UINT8)
    return TYPE_NAMES.get(to)


def _qdq_types(g: _Graph, release: Release) -> Iterator[Violation]:
    for node in (n for n in g.nodes if n.op_type in QDQ):
        dtype = _quantized_type(g, node)
        if dtype not in release.quantized_types:
            side = "input" if node.op_type == "DequantizeLinear" else "output"
            yield Violation(_name(node), "qdq-input-type", f"{node.op_type} {side} {node.input[0]} is {dtype}; "
                                                           f"TensorRT quantizes to {', '.join(release.quantized_types)}")


def _qdq_zero_points(g: _Graph, release: Release) -> Iterator[Violation]:
    for node in (n for n in g.nodes if n.op_type in QDQ and len(n.input) > 2 and n.input[2]):
        zero = g.constant(node.input[2])
        if zero is None or np.any(zero != 0):
            yield Violation(_name(node), "qdq-zero-point", f"zero point {node.input[2]} is "
                                                           f"{'not a constant' if zero is None else 'not all zero'}")


def _qdq_scales(g: _Graph, release: Release) -> Iterator[Violation]:
    for node in (n for n in g.nodes if n.op_type in QDQ):
        scale_name = node.input[1]
        scale = g.constant(scale_name)
        dtype = g.type_name(scale_name)
        problem = None
        if scale is None:
            problem = "is not a build-time constant"
        elif dtype not in FLOATS:
            problem = f"is {dtype}, not a float type"
        elif scale.ndim > 1 or np.any(scale <= 0):
            problem = "has rank > 1" if scale.ndim > 1 else "has values <= 0"
        elif node.op_type == "QuantizeLinear" and g.type_name(node.input[0]) not in (None, dtype):
            problem = f"is {dtype} but the quantized input is {g.type_name(node.input[0])} (strongly typed)"
        if problem:
            yield Violation(_name(node), "qdq-scale", f"scale {scale_name} {problem}")


def _qdq_per_channel(g: _Graph, release: Release) -> Iterator[Violation]:
    for node in (n for n in g.nodes if n.op_type in QDQ):
        scale = g.constant(node.input[1])
        if scale is not None and scale.size > 1 and not g.is_weight(node.input[0]):
            yield Violation(_name(node), "qdq-per-channel", f"{scale.size} scales on activation {node.input[0]}")


def _topk(g: _Graph, release: Release) -> Iterator[Violation]:
    for node in (n for n in _standard_nodes(g) if n.op_type == "TopK"):
        k = g.constant(node.input[1]) if len(node.input) > 1 else None
        is_sorted = next((a.i for a in node.attribute if a.name == "sorted"), 1)
        if k is None:
            yield Violation(_name(node), "topk-k", f"K ({node.input[1]}) is computed at run time; only a constant "
                                                   f"is checked against TensorRT's limit {release.topk_max}")
        elif int(k.max()) > release.topk_max:
            yield Violation(_name(node), "topk-k", f"K = {int(k.max())} > {release.topk_max}")
        if not is_sorted:
            yield Violation(_name(node), "topk-k", "sorted = 0")


def _inputs(g: _Graph, release: Release) -> Iterator[Violation]:
    for value in g.model.graph.input:
        if value.name in g.initializers:
            continue
        dtype = g.type_name(value.name)
        if dtype not in release.network_input_types:
            yield Violation(value.name, "input-dtype", f"network input {value.name} is {dtype}")
        elif dtype == "UINT8":
            for node in g.consumers.get(value.name, []):
                to = next((a.i for a in node.attribute if a.name == "to"), 0)
                if node.op_type != "Cast" or TYPE_NAMES.get(to, "") not in ("FP32", "FP16"):
                    yield Violation(_name(node), "input-dtype", f"UINT8 input {value.name} feeds {node.op_type}, "
                                                                "not a Cast to FP32/FP16")


def _plugins(g: _Graph, release: Release) -> Iterator[Violation]:
    from ..surgery.plugins import plugin_node_problems

    for node in g.nodes:
        if node.domain in STANDARD_DOMAINS or (node.domain, node.op_type) in g.functions:
            continue
        for problem in plugin_node_problems(node):
            yield Violation(_name(node), "plugin", f"{node.domain}.{node.op_type} has {problem}")


def _local_functions(g: _Graph, release: Release) -> Iterator[Violation]:
    from ..export.onnx_functions import DOMAIN as REGION_DOMAIN

    for node in g.nodes:
        if (node.domain, node.op_type) in g.functions:
            region = " (an mrcnn-edge region: model.onnx is the CPU graph, TensorRT gets model.trt.onnx)" \
                if node.domain == REGION_DOMAIN else ""
            yield Violation(_name(node), "local-function", f"calls local function {node.domain}.{node.op_type}{region}")


CHECKS: dict[str, Callable[[_Graph, Release], Iterator[Violation]]] = {
    "ir-version": _ir_version, "opset": _opset, "op-unsupported": _operators, "op-dtype": _dtypes,
    "int64-where-int32": lambda g, r: _plugin_input_types(g), "qdq-input-type": _qdq_types,
    "qdq-zero-point": _qdq_zero_points, "qdq-scale": _qdq_scales, "qdq-per-channel": _qdq_per_channel,
    "topk-k": _topk, "input-dtype": _inputs, "plugin": _plugins, "local-function": _local_functions,
}
assert set(CHECKS) == set(RULES), "every rule has exactly one check"


def check_model(model: onnx.ModelProto, path: str = "model", tensorrt: str = DEFAULT_RELEASE) -> CheckResult:
    if tensorrt not in RELEASES:
        raise UserError(f"unknown TensorRT release '{tensorrt}': choose {', '.join(RELEASES)}")
    start = time.perf_counter()
    release, graph = RELEASES[tensorrt], _Graph(model)
    violations = [v for check in CHECKS.values() for v in check(graph, release)]
    return CheckResult(path, tensorrt, len(graph.nodes), violations, time.perf_counter() - start)


def check(path: str, tensorrt: str = DEFAULT_RELEASE) -> CheckResult:
    """Check the ONNX file at `path` against TensorRT `tensorrt`'s rules (10.3, 10.x or 11.x)."""
    if not os.path.isfile(path):
        raise UserError(f"model not found: {path}")
    return check_model(read_onnx(path), path, tensorrt)
