"""Dynamic K on the CPU: run the mask branch (and the keypoint branch) on the rows that hold detections,
not on all K.

The exported graph keeps the contract's fixed K (TensorRT wants it), so the mask head convolves K
RoIs even when three detections passed the threshold. The deploy forward writes the mask branch
without any shape that names K (`DeployMaskRCNN.segment`), so slicing its two inputs, the detection
boxes and classes, to the first max(num_detections, 1) rows is all it takes. At least one row
stays so that no kernel sees an empty batch.

Graphs with a dynamic batch axis are left as they are: there the exporter resolves the last reshape's
-1 against the symbolic batch and writes K itself ([-1, K, M, M]), so cut rows would not fit.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

DETECTIONS = "num_detections"
HEAD_OUTPUTS = ("masks", "keypoint_heatmaps")  # one row per detection (contract.HEAD_OUTPUTS)
MASK_INPUTS = (2, 4)  # the detection NMS outputs the head branches read: boxes (both), classes (masks)
ROWS_DIM = "mask_rows"


def _mask_branch_readers(graph: onnx.GraphProto, nms: onnx.NodeProto) -> dict[str, list[onnx.NodeProto]]:
    """NMS output -> the nodes of the mask branch that read it. A node that only hands the tensor to a
    graph output (fp16 graphs end in Identity nodes) is not part of the branch."""
    outputs = {o.name for o in graph.output}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for name in (nms.output[i] for i in MASK_INPUTS):
        readers[name] = [n for n in graph.node if name in n.input
                         and not (n.op_type == "Identity" and n.output[0] in outputs)]
    return readers


def trim_mask_rows(model: onnx.ModelProto) -> bool:
    """Slice the head branches' inputs to the detected rows, in place. False (and the model untouched)
    when the graph has no head branch reading the detection outputs, e.g. a graph not exported by us."""
    graph = model.graph
    if any(i.type.tensor_type.shape.dim[:1] and i.type.tensor_type.shape.dim[0].dim_param for i in graph.input):
        return False  # a dynamic batch axis: see the module docstring
    producers = [i for i, n in enumerate(graph.node) if DETECTIONS in n.output]
    heads = [o for o in graph.output if o.name in HEAD_OUTPUTS]
    if len(producers) != 1 or len(graph.node[producers[0]].output) <= max(MASK_INPUTS) or not heads:
        return False
    at = producers[0] + 1  # right after the NMS: the node list stays topologically sorted
    readers = _mask_branch_readers(graph, graph.node[at - 1])
    if not readers[graph.node[at - 1].output[MASK_INPUTS[0]]]:  # every head reads the boxes
        return False
    prefix = "mask_rows/"
    nodes = [
        helper.make_node("ReduceMax", [DETECTIONS], [prefix + "max"], keepdims=1),
        helper.make_node("Max", [prefix + "max", prefix + "one"], [prefix + "max1"]),
        helper.make_node("Cast", [prefix + "max1"], [prefix + "rows"], to=TensorProto.INT64),
    ]
    constants: dict[str, np.ndarray] = {prefix + "one": np.array([1], np.int32),
                                        prefix + "zero": np.array([0], np.int64),
                                        prefix + "axis": np.array([1], np.int64)}
    graph.initializer.extend(onnx.numpy_helper.from_array(v, k) for k, v in constants.items())
    for i, (name, nodes_reading) in enumerate((n, r) for n, r in readers.items() if r):
        sliced = f"{prefix}input_{i}"
        nodes.append(helper.make_node("Slice", [name, prefix + "zero", prefix + "rows", prefix + "axis"], [sliced]))
        for node in nodes_reading:
            node.input[:] = [sliced if x == name else x for x in node.input]
    ordered = list(graph.node)
    del graph.node[:]
    graph.node.extend(ordered[:at] + nodes + ordered[at:])
    for head in heads:
        head.type.tensor_type.shape.dim[1].dim_param = ROWS_DIM
    del graph.value_info[:]  # the exporter's static shapes of the branch say K; ORT infers them anew
    return True


def pad_head_rows(outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each head output padded back to the contract's K rows (the boxes' rows), in place."""
    for name in HEAD_OUTPUTS:
        if name in outputs:
            outputs[name] = pad_mask_rows(outputs[name], outputs["boxes"].shape[1])
    return outputs


def pad_mask_rows(masks: np.ndarray, rows: int) -> np.ndarray:
    """masks [B,n,...] -> [B,rows,...], zero padded: the contract's shape for the trimmed outputs."""
    if masks.shape[1] == rows:
        return masks
    padded = np.zeros((masks.shape[0], rows, *masks.shape[2:]), masks.dtype)
    padded[:, : masks.shape[1]] = masks
    return padded
