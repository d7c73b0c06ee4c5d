"""Where Q/DQ goes: the placement TensorRT fuses well, kept as data.

Inputs and weights of Conv, ConvTranspose and Gemm/MatMul are quantised. Everything else stays in
float: RoIAlign and NMS (plugin regions), box decoding, softmax and the mask sigmoid, which consume
the heads' float outputs. Optional exclusions trade speed for accuracy.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the CLI reads the exclusion names without importing onnx
    import onnx

QUANTIZED_OP_TYPES = ["Conv", "ConvTranspose", "Gemm", "MatMul"]


def _producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {o: n for n in graph.node for o in n.output}


def consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    """Tensor name -> the nodes that read it."""
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    return readers


def first_conv(graph: onnx.GraphProto) -> list[str]:
    """The stem: the first Conv reached from the image (it sees raw pixels, the widest range)."""
    convs = [n for n in graph.node if n.op_type == "Conv"]
    return [convs[0].name] if convs else []


def head_outputs(graph: onnx.GraphProto) -> list[str]:
    """The last layer of each head: compute nodes whose outputs feed no other Conv/Gemm/MatMul.

    These are the RPN objectness and box convs, the box predictor and the mask logits conv.
    """
    compute = [n for n in graph.node if n.op_type in QUANTIZED_OP_TYPES]
    readers = consumers(graph)

    def feeds_compute(name: str, depth: int = 0) -> bool:
        for c in readers.get(name, []):
            if c.op_type in QUANTIZED_OP_TYPES or (depth < 6 and c.op_type in _PASS_THROUGH
                                                   and any(feeds_compute(o, depth + 1) for o in c.output)):
                return True
        return False

    return [n.name for n in compute if not any(feeds_compute(o) for o in n.output)]


def mask_head(graph: onnx.GraphProto) -> list[str]:
    """The per-detection heads, whole: every compute node after a RoIAlign that pools the detections (the
    region or plugin nodes whose RoIs come from the node producing `num_detections`): the mask branch, and
    a keypoint model's keypoint branch. They run on the few detected rows only, so keeping them float costs
    little time on the CPU (see mask_rows.py)."""
    producers = _producers(graph)
    detect = producers.get("num_detections")
    pools = [n for n in graph.node if "RoIAlign" in n.op_type and n.input and producers.get(n.input[0]) is detect]
    if detect is None or not pools:
        return []
    readers, branch = consumers(graph), set()
    frontier = [o for pool in pools for o in pool.output]
    while frontier:
        for node in readers.get(frontier.pop(), []):
            if node.name not in branch:
                branch.add(node.name)
                frontier += node.output
    return [n.name for n in graph.node if n.name in branch and n.op_type in QUANTIZED_OP_TYPES]


# Ops between two compute layers that keep values in the same domain (activations, BN, reshapes)
_PASS_THROUGH = {"Relu", "HardSwish", "HardSigmoid", "Mul", "Add", "BatchNormalization", "Reshape", "Flatten",
                 "Transpose", "Resize", "MaxPool", "Identity", "Cast", "Sigmoid", "Clip", "Concat", "Slice"}

EXCLUSIONS = {"first_conv": first_conv, "head_outputs": head_outputs, "mask_head": mask_head}
DEFAULT_KEEP_FLOAT = ("first_conv", "head_outputs", "mask_head")  # the best measured: calibration/README.md


def nodes_to_exclude(model: onnx.ModelProto, keep_float: list[str]) -> list[str]:
    """Names of the nodes that the named exclusions keep in float."""
    names: list[str] = []
    for key in keep_float:
        names += EXCLUSIONS[key](model.graph)
    return names
