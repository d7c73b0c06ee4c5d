"""The float-input flavour of a graph: `images` float32 [B,3,H,W] RGB in 0..255 instead of uint8.

DeepStream's nvinfer hands the network float planes, y = net-scale-factor * (x - offsets[c]) of the 0..255
pixels (Gst-nvinfer docs, "pre-processing function"), never uint8. With net-scale-factor=1 and offsets 0
those planes are exactly the pixels as floats, which is what our graph makes of its uint8 input with its
first node, a Cast to float. So the flavour is the same graph without that Cast: the normalisation stays
in the graph, and for integer pixels the two flavours compute bit for bit the same thing.
"""
from __future__ import annotations

import onnx
from onnx import TensorProto

from ..contract import INPUT
from ..errors import UserError
from ..files import read_onnx
from ..sidecar import read_sidecar, write_sidecar

INPUT_FORMAT = "float32 NCHW RGB, 0..255"  # recorded in the sidecar as "input"


def _input(graph: onnx.GraphProto, path: str) -> onnx.ValueInfoProto:
    found = [i for i in graph.input if i.name == INPUT]
    if not found or found[0].type.tensor_type.elem_type != TensorProto.UINT8:
        raise UserError(f"{path} has no uint8 input '{INPUT}': it is not an mrcnn-edge graph "
                        "(export it with `mrcnn-edge export`)")
    return found[0]


def _cast_to(node: onnx.NodeProto) -> int | None:
    return next((a.i for a in node.attribute if a.name == "to"), None)


def _input_casts(graph: onnx.GraphProto, path: str) -> list[onnx.NodeProto]:
    """The Casts to float of the input (what export writes first). Shape nodes may read it too: a shape
    is the same for both flavours. Anything else reading it is not a graph of ours."""
    readers = [n for n in graph.node if INPUT in n.input and n.op_type != "Shape"]
    odd = [n.name or n.op_type for n in readers
           if n.op_type != "Cast" or _cast_to(n) != TensorProto.FLOAT]
    if odd or not readers:
        raise UserError(f"{path}: '{INPUT}' is read by {', '.join(odd) or 'no Cast'}, not by Casts to float: "
                        "re-export the model with `mrcnn-edge export`")
    return readers


def to_float_input(model: onnx.ModelProto, path: str = "the model") -> onnx.ModelProto:
    """model with a float32 input: its Casts of the input removed, their readers reading the input."""
    graph = model.graph
    _input(graph, path).type.tensor_type.elem_type = TensorProto.FLOAT
    casts = _input_casts(graph, path)
    cast_outputs = {c.output[0] for c in casts}
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in cast_outputs:
                node.input[i] = INPUT
    for cast in casts:
        graph.node.remove(cast)
    return model


def write_float_input(model_in: str, model_out: str) -> str:
    """Write the float-input flavour of model_in (an .onnx with its sidecar) to model_out, with a sidecar."""
    info = read_sidecar(model_in)  # before any work: a graph without one is not ours
    model = read_onnx(model_in, fix="pass model.onnx or model.trt.onnx from `mrcnn-edge export`/`surgery`")
    onnx.save(to_float_input(model, model_in), model_out)
    write_sidecar(model_out, {**info, "input": INPUT_FORMAT})
    return model_out
