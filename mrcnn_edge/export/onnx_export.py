"""Checkpoint -> model.onnx (the output contract of ARCHITECTURE.md) plus its sidecar `model.json`.

Exporter choice: the dynamo exporter (`torch.onnx.export(dynamo=True)`). With the data-dependent
steps inside the two regions it yields a flat graph of static shapes (no Loop or If, which
TensorRT handles poorly), and its custom translation table turns each region into one node of
our domain. The legacy TorchScript exporter would bury NMS in If subgraphs. Opset 18: the lowest
at which ONNX Runtime accepts the dynamo graph (ReduceMax with axes as input) and one that every
TensorRT 10 parser reads.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import onnx
import torch
from torchvision.models.detection import MaskRCNN
from tqdm import tqdm

from .._version import __version__
from ..model.conventions import conventions_of
from ..contract import outputs_for
from ..errors import UserError
from ..sidecar import write_sidecar
from .deploy import MAX_SIDE, MIN_SIDE, STRIDE, DeployMaskRCNN, heads_of_model
from .onnx_functions import DOMAIN, VERSION, batched_nms_function, multilevel_roi_align_function, translation_table

OPSET = 18
DEFAULT_SIZE = (800, 800)
MAX_BATCH = 64  # the dynamic batch axis' bound, as torch.export wants one


@dataclass(frozen=True)
class ExportResult:
    path: str
    sidecar: str
    nodes: int  # nodes of the main graph (each region counts as one)
    seconds: float
    size_bytes: int
    notes: tuple[str, ...] = ()  # how the checkpoint was read (DDP prefix, EMA weights, class names)


def check_size(size: tuple[int, int]) -> tuple[int, int]:
    """The input size H, W: each a multiple of 32 (the coarsest FPN stride) within 320..1344."""
    H, W = (int(s) for s in size)
    nearest = [max(MIN_SIDE, min(MAX_SIDE, round(side / STRIDE) * STRIDE)) for side in (H, W)]
    for name, side in (("height", H), ("width", W)):
        if side % STRIDE or not MIN_SIDE <= side <= MAX_SIDE:
            raise UserError(f"input {name} {side} is not a multiple of {STRIDE} in {MIN_SIDE}..{MAX_SIDE}: "
                            f"pass e.g. --size {nearest[0]}x{nearest[1]}")
    return H, W


def _read_shapes_after_the_cast(graph: onnx.GraphProto) -> None:
    """TensorRT takes a UINT8 network input only into a Cast to float (NvInferRuntimeBase.h, DataType::kUINT8;
    onnx-tensorrt operators.md: UINT8 'only as network input or output'). With a dynamic batch axis the
    exporter reads the batch size as Shape(images): read it from the Cast's float output instead (same
    dims), and put that Cast first so that every reader of the shape comes after it."""
    uint8 = {i.name for i in graph.input if i.type.tensor_type.elem_type == onnx.TensorProto.UINT8}
    casts = [n for n in graph.node if n.op_type == "Cast" and n.input[0] in uint8]
    float_of = {n.input[0]: n.output[0] for n in casts}
    shapes = [n for n in graph.node if n.op_type == "Shape" and n.input[0] in float_of]
    if not shapes:
        return
    for node in shapes:
        node.input[0] = float_of[node.input[0]]
    rest = [n for n in graph.node if n not in casts]
    del graph.node[:]
    graph.node.extend(casts + rest)


def export_model(model: MaskRCNN, out_path: str, size: tuple[int, int], *, batch_size: int | None = 1,
                 opset: int = OPSET) -> int:
    """Export model's deploy forward at a static size; returns the main graph's node count.

    batch_size None exports a dynamic batch axis ("batch", up to MAX_BATCH): the deploy forward and
    both region bodies are batch-generic, so only the traced example (2 images: torch.export
    specialises a size of 1) and the declared axis change.
    """
    deploy = DeployMaskRCNN(model.eval(), check_size(size)).eval()
    images = torch.zeros(batch_size or 2, 3, *deploy.image_size, dtype=torch.uint8)
    dynamic = None if batch_size else {"images": {0: torch.export.Dim("batch", min=1, max=MAX_BATCH)}}
    with torch.no_grad():
        program = torch.onnx.export(deploy, (images,), dynamo=True, opset_version=opset, input_names=["images"],
                                    output_names=list(outputs_for(deploy.heads)), custom_translation_table=translation_table(),
                                    dynamic_shapes=dynamic, optimize=True, verbose=False)
    proto = program.model_proto
    _read_shapes_after_the_cast(proto.graph)
    num_levels = len(model.roi_heads.box_roi_pool.featmap_names)
    aligned = conventions_of(model).roi_aligned
    proto.functions.extend([multilevel_roi_align_function(num_levels, opset, aligned), batched_nms_function(opset)])
    if not any(o.domain == DOMAIN for o in proto.opset_import):
        proto.opset_import.append(onnx.helper.make_opsetid(DOMAIN, VERSION))
    onnx.checker.check_model(proto)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    onnx.save(proto, out_path)
    return len(proto.graph.node)


def sidecar_info(model: MaskRCNN, *, arch: str, classes, size, opset: int, sha256: str,
                 keypoint_layout=None) -> dict:
    """What the runtime needs to know about model.onnx, written next to it as model.json."""
    heads = heads_of_model(model)
    info = {"arch": arch, "classes": list(classes), "input_size": list(size), "precision": "fp32",
            "score_threshold": model.roi_heads.score_thresh, "detections": model.roi_heads.detections_per_img,
            "heads": list(heads), "opset": opset, "checkpoint_sha256": sha256, "mrcnn_edge_version": __version__}
    if "mask" in heads:
        info.update(mask_size=28, paste=conventions_of(model).paste)
    if "keypoint" in heads:
        info.update(keypoint_layout=keypoint_layout.to_json(), keypoint_decode=conventions_of(model).keypoint_decode)
    return info


def export_onnx(weights: str, out_path: str, size: tuple[int, int] | None = None, *, arch: str | None = None,
                batch_size: int | None = 1, opset: int = OPSET, progress: bool = True, classes=None,
                **test_settings) -> ExportResult:
    """Export a checkpoint to ONNX. size (H, W) defaults to the checkpoint's input size, else 800x800;
    batch_size None gives a dynamic batch axis; classes (background excluded) override the checkpoint's
    names; test_settings are MaskRCNN's (box_score_thresh, box_detections_per_img, ...)."""
    from ..model.checkpoint import load_model

    start = time.perf_counter()
    if size:
        check_size(size)  # before the slow part
    model, ckpt = load_model(weights, arch=arch, classes=classes, **test_settings)
    size = check_size(size or ckpt.input_size or DEFAULT_SIZE)
    with tqdm(total=2, desc=f"export {ckpt.arch} at {size[0]}x{size[1]}", disable=not progress, leave=False) as bar:
        nodes = export_model(model, out_path, size, batch_size=batch_size, opset=opset)
        bar.update()
        bar.set_description("write sidecar")
        sidecar = write_sidecar(out_path, sidecar_info(model, arch=ckpt.arch, classes=ckpt.classes, size=size,
                                                       opset=opset, sha256=ckpt.sha256,
                                                       keypoint_layout=ckpt.keypoint_layout))
        bar.update()
    return ExportResult(out_path, sidecar, nodes, time.perf_counter() - start, os.path.getsize(out_path),
                        tuple(ckpt.notes))
