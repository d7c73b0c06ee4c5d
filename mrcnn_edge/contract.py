"""The output contract every graph, engine and served model speaks (ARCHITECTURE.md): tensor -> dtype.

One source for the exporter, the backends, the Triton and DeepStream configs, so they cannot drift.
Every model has the detection outputs; each head a model has (masks, keypoints) adds its own output,
and a model without that head leaves it out.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from .errors import UserError

INPUT = "images"
CONTRACT = {INPUT: "uint8", "num_detections": "int32", "boxes": "float32", "scores": "float32",
            "classes": "int32", "masks": "float32", "keypoint_heatmaps": "float32"}
DETECTION_OUTPUTS = ("num_detections", "boxes", "scores", "classes")
# head -> its output: masks [B,K,M,M] probabilities of each detection's own class; keypoint_heatmaps
# [B,K,J,S,S] logits, one heatmap per keypoint (decoded to points on the host, as torchvision does)
HEAD_OUTPUTS = {"mask": "masks", "keypoint": "keypoint_heatmaps"}
OUTPUTS = (*DETECTION_OUTPUTS, HEAD_OUTPUTS["mask"])  # a Mask R-CNN's outputs


def outputs_for(heads: Iterable[str]) -> tuple[str, ...]:
    """The outputs of a model with these heads ("mask", "keypoint"), in contract order."""
    heads = set(heads)
    unknown = heads - set(HEAD_OUTPUTS)
    if unknown:
        raise ValueError(f"unknown heads {sorted(unknown)}: the contract knows {sorted(HEAD_OUTPUTS)}")
    return (*DETECTION_OUTPUTS, *(out for head, out in HEAD_OUTPUTS.items() if head in heads))


def heads_of(output_names: Iterable[str]) -> tuple[str, ...]:
    """The heads a graph has, read off its output names."""
    names = set(output_names)
    return tuple(head for head, out in HEAD_OUTPUTS.items() if out in names)


def graph_io(graph) -> dict[str, dict[str, Any]]:
    """An ONNX graph's inputs and outputs as `check_contract` reads them: name -> {"dtype": numpy's name,
    "shape": dims, -1 where symbolic}."""
    from onnx.helper import tensor_dtype_to_np_dtype

    io = {}
    for value in [*graph.input, *graph.output]:
        tensor = value.type.tensor_type
        io[value.name] = {"dtype": tensor_dtype_to_np_dtype(tensor.elem_type).name if tensor.elem_type else "?",
                          "shape": [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]}
    return io


def check_contract(io: Mapping[str, Mapping[str, Any]], what: str, *, heads: Iterable[str] | None = None,
                   size: Sequence[int] | None = None, fix: str = "") -> tuple[str, ...]:
    """The model's contract outputs, in contract order; one UserError line naming every tensor that is wrong
    or missing unless the model has them all. The rules every consumer (engine build, bundles, backends)
    applies alike:
      * the input `images` is uint8 [B,3,H,W] with a fixed H and W, equal to `size` (H, W) where the consumer
        knows it (a sidecar's or a served config's input_size); B may be fixed or symbolic;
      * the detection outputs and those of the model's heads are there, each of the contract's type. heads:
        those a served config declares; else those the output names show, and none means Mask R-CNN's.
    io: name -> {"dtype": numpy's name, "shape": dims, -1 where symbolic} (`graph_io`). what: the model, as
    the message names it; fix: what to do, after the message."""
    heads = tuple(heads) if heads is not None else (heads_of(io) or ("mask",))
    outputs = outputs_for(heads)
    problems = []
    image = io.get(INPUT)
    H, W = size if size is not None else ("H", "W")
    shape = list(image.get("shape", [])) if image else []
    fixed = len(shape) == 4 and shape[1] == 3 and min(shape[2:]) > 0
    if not image or image.get("dtype") != CONTRACT[INPUT] or not fixed or (
            size is not None and shape[2:] != [H, W]):
        wanted = f"input {INPUT} {CONTRACT[INPUT]} [B,3,{H},{W}]" + ("" if size is not None else " (H, W fixed)")
        found = f" (is {image.get('dtype')} {_dims(shape)})" if image else ""
        problems.append(wanted + found)
    for name in outputs:
        dtype = io.get(name, {}).get("dtype")
        if dtype != CONTRACT[name]:
            problems.append(f"output {name} {CONTRACT[name]}" + (f" (is {dtype})" if dtype else ""))
    if problems:
        raise UserError(f"{what} is not an mrcnn-edge model: it does not match the output contract (wrong or "
                        f"missing: {', '.join(problems)})" + (f": {fix}" if fix else ""))
    return outputs


def _dims(shape) -> str:
    return "[" + ",".join("?" if d is None or (isinstance(d, int) and d < 0) else str(d) for d in shape) + "]"
