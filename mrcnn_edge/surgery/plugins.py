"""Our TensorRT plugin ops as ONNX nodes: names, attributes, and their CPU execution.

A plugin node carries `plugin_version` and `plugin_namespace`, which TensorRT's ONNX parser uses to
pick the creator from the registry. Attribute names are the creator's fields; the C++ side is the one
source of truth for them (`_plugin_ref.plugin_fields`), and `check_plugin_node` holds nodes to it.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from ..errors import UserError
from .plugin_impls import check_plugin_impl

PLUGIN_DOMAIN = "trt.plugins"
PLUGIN_NAMESPACE = "mrcnn_edge"
PLUGIN_VERSION = "1"
ROI_ALIGN = "MultilevelRoIAlign_TRT"
NMS = "BatchedNMS_TRT"
_BOOKKEEPING = {"plugin_version", "plugin_namespace"}


def _ref():
    try:
        from .. import _plugin_ref
    except ImportError:
        raise UserError("the plugins' CPU reference extension is not built: reinstall with "
                        "`pip install -e .` (needs a C++ compiler and pybind11)") from None
    return _plugin_ref


def attributes(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute if a.name not in _BOOKKEEPING}


def _roi_align(attrs: dict, impl: str, rois: np.ndarray, *features: np.ndarray) -> list[np.ndarray]:
    rois = np.ascontiguousarray(rois, np.float32)  # the plugin takes float32 boxes in fp16 graphs too
    args = (list(attrs["spatial_scales"]), tuple(attrs["output_size"]), int(attrs["sampling_ratio"]),
            bool(attrs["aligned"]), float(attrs["canonical_scale"]), int(attrs["canonical_level"]))
    if impl == "kernels":  # the plugin's FeatureType: fp16 maps take the kernel's __half path, the output is fp16
        return [_ref().multilevel_roi_align_kernels(rois, [np.ascontiguousarray(f) for f in features], *args)]
    # fp16 graphs: the reference computes in fp32, as the kernels accumulate, and rounds once to fp16
    pooled = _ref().multilevel_roi_align(rois, [np.ascontiguousarray(f, np.float32) for f in features], *args)
    return [pooled.astype(features[0].dtype, copy=False)]


def _nms(attrs: dict, impl: str, boxes: np.ndarray, scores: np.ndarray, categories: np.ndarray) -> list[np.ndarray]:
    box_dtype, score_dtype = boxes.dtype, scores.dtype
    run = _ref().batched_nms_kernels if impl == "kernels" else _ref().batched_nms
    num, indices, out_boxes, out_scores, classes = run(
        np.ascontiguousarray(boxes, np.float32), np.ascontiguousarray(scores, np.float32),
        np.ascontiguousarray(categories, np.int32), float(attrs["iou_threshold"]),
        float(attrs["score_threshold"]), int(attrs["max_output"]))
    return [num, indices, out_boxes.astype(box_dtype, copy=False), out_scores.astype(score_dtype, copy=False), classes]


_CPU = {ROI_ALIGN: _roi_align, NMS: _nms}


def run_plugin_node(node: onnx.NodeProto, inputs: list[np.ndarray], impl: str = "reference") -> list[np.ndarray]:
    """Execute one plugin node on the CPU, with the plugin's CPU reference or its CUDA kernels (PLUGIN_IMPLS)."""
    if node.op_type not in _CPU:
        raise UserError(f"plugin node {node.name!r} has op {node.op_type!r}: this runner knows {', '.join(_CPU)}")
    return _CPU[node.op_type](attributes(node), check_plugin_impl(impl), *inputs)


def plugin_node_problems(node: onnx.NodeProto) -> list[str]:
    """What is wrong with a plugin node against its creator, read from the C++ plugin itself (no copy kept
    here): unknown op type, attributes other than the creator's fields, wrong plugin_version/namespace."""
    if node.op_type not in _CPU:
        return [f"op type {node.op_type!r} is none of our plugins ({', '.join(_CPU)})"]
    fields = {name for name, *_ in _ref().plugin_fields(node.op_type)}
    given = set(attributes(node))
    problems = []
    if given != fields:
        problems.append(f"attributes {sorted(given)}, but its creator's fields are {sorted(fields)}")
    meta = {a.name: helper.get_attribute_value(a) for a in node.attribute if a.name in _BOOKKEEPING}
    if meta != {"plugin_version": PLUGIN_VERSION.encode(), "plugin_namespace": PLUGIN_NAMESPACE.encode()}:
        shown = {k: v.decode() if isinstance(v, bytes) else v for k, v in meta.items()}
        problems.append(f"{shown}: expected plugin_version {PLUGIN_VERSION}, plugin_namespace {PLUGIN_NAMESPACE}")
    return problems


def check_plugin_node(node: onnx.NodeProto) -> None:
    """Hold a node to its creator's field list: a UserError naming the first problem."""
    problems = plugin_node_problems(node)
    if problems:
        raise UserError(f"plugin node {node.name!r} ({node.op_type}) has {problems[0]}")
