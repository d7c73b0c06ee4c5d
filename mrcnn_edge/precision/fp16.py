"""FP16: float tensors of the feature extractor and heads in half precision, coordinates in float.

TensorRT 11 builds strongly typed networks, so precision is whatever the graph's tensors say. The
block list keeps in float: the input normalisation, everything downstream of the heads' last layers
(box decoding, softmax, the mask sigmoid) and the plugin regions' coordinate inputs. Conversion is
onnxconverter-common's, which inserts the Casts at every block boundary.
"""
from __future__ import annotations

import time
import warnings
from collections import deque
from dataclasses import dataclass

import numpy as np
import onnx
import onnx_graphsurgeon as gs
from onnxconverter_common.float16 import convert_float_to_float16

from ..files import REEXPORT, read_onnx
from ..sidecar import derive_sidecar
from .placement import QUANTIZED_OP_TYPES, consumers, head_outputs

# Region calls of model.onnx and plugin nodes of model.trt.onnx: they run in float here. (The RoIAlign
# plugin also takes FP16 maps; feeding it FP16 is left for a measured follow-up.)
REGION_OPS = ["MultilevelRoIAlign", "BatchedNMS", "MultilevelRoIAlign_TRT", "BatchedNMS_TRT"]


@dataclass
class Fp16Result:
    """The fp16 graph: how many nodes were converted and how many kept in float."""

    path: str
    kept_float: int
    converted: int
    seconds: float


def float_zone(graph: onnx.GraphProto) -> list[str]:
    """Nodes kept in float: before the first Conv, and from each head's output to the next compute layer."""
    readers = consumers(graph)
    first = next(i for i, n in enumerate(graph.node) if n.op_type == "Conv")
    zone = {n.name for n in graph.node[:first]}
    by_name = {n.name: n for n in graph.node}
    frontier = deque(o for name in head_outputs(graph) for o in by_name[name].output)
    while frontier:
        for node in readers.get(frontier.popleft(), []):
            if node.op_type in QUANTIZED_OP_TYPES or node.name in zone:
                continue
            zone.add(node.name)
            frontier.extend(node.output)
    return sorted(zone)


def _split_consumed_outputs(graph: onnx.GraphProto) -> list[str]:
    """Give every graph output that nodes also consume an internal name, plus an Identity to the output.

    onnxconverter-common looks for the types of blocked nodes' inputs in value_info only, so a graph
    output read inside the graph (`boxes` feeds the mask RoIAlign) would reach it as FP16.
    """
    consumed = {i for n in graph.node for i in n.input}
    identities = []
    for output in graph.output:
        if output.name not in consumed:
            continue
        internal = output.name + "__value"
        for node in graph.node:
            node.input[:] = [internal if i == output.name else i for i in node.input]
            node.output[:] = [internal if o == output.name else o for o in node.output]
        identity = onnx.helper.make_node("Identity", [internal], [output.name], name=f"{output.name}__output")
        graph.node.append(identity)
        identities.append(identity.name)
    return identities


def _drop_round_trips(model: onnx.ModelProto) -> onnx.ModelProto:
    """Remove the converter's float -> half -> float Casts between two blocked nodes, and its half
    Casts in front of graph outputs: coordinates would lose precision there for nothing."""
    graph = gs.import_onnx(model)
    for node in graph.nodes:
        if node.op != "Cast" or node.attrs["to"] != onnx.TensorProto.FLOAT16:
            continue
        source = node.inputs[0]
        if source.dtype != np.float32:
            continue
        for consumer in list(node.outputs[0].outputs):
            if consumer.op == "Cast" and consumer.attrs["to"] == onnx.TensorProto.FLOAT:
                for user in list(consumer.outputs[0].outputs):
                    for i, t in enumerate(user.inputs):
                        if t is consumer.outputs[0]:
                            user.inputs[i] = source
        if node.outputs[0] in graph.outputs:
            index = graph.outputs.index(node.outputs[0])
            graph.outputs[index] = source
            node.outputs[0].name, source.name = source.name + "__half", node.outputs[0].name
    graph.cleanup()
    return gs.export_onnx(graph)


def to_fp16(onnx_in: str, onnx_out: str) -> Fp16Result:
    start = time.perf_counter()
    model = read_onnx(onnx_in, fix=REEXPORT)
    keep = float_zone(model.graph) + _split_consumed_outputs(model.graph)
    functions = list(model.functions)  # region bodies stay float: the converter would half them too
    del model.functions[:]
    with warnings.catch_warnings():  # one line per tiny weight clamped to fp16's range: expected, not news
        warnings.filterwarnings("ignore", message="the float32 number .* will be truncated")
        half = convert_float_to_float16(model, keep_io_types=True, op_block_list=REGION_OPS, node_block_list=keep,
                                        disable_shape_infer=False)
    half.functions.extend(functions)
    half = _drop_round_trips(half)
    onnx.save(half, onnx_out)
    derive_sidecar(onnx_in, onnx_out, precision="fp16", fp16={"kept_float_nodes": len(keep)})
    return Fp16Result(onnx_out, len(keep), len(model.graph.node) - len(keep), time.perf_counter() - start)
