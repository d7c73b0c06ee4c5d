"""The plugin regions as ONNX local functions in the domain `mrcnn_edge.regions`.

The exporter writes each region as one call node (`MultilevelRoIAlign`, `BatchedNMS`) with the
plugin's inputs, outputs and attributes. The function bodies below are standard ONNX ops, so ONNX
Runtime runs the graph as it is (it inlines local functions), and surgery replaces the call node by
the plugin node one for one. Every numeric attribute is referenced by the body (`ref_attr_name`),
so a call node means exactly what its attributes say; only the number of FPN levels (the input
count) is fixed per body, and each model has one body per op.
"""
from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnx.defs import OpSchema
from onnxscript.values import Op, Opset

DOMAIN = "mrcnn_edge.regions"
VERSION = 1
ROI_ALIGN = "MultilevelRoIAlign"
NMS = "BatchedNMS"
ROI_ALIGN_OUTPUT = "pooled"
NMS_OUTPUTS = ("num_detections", "indices", "boxes", "scores", "classes")
_ROI_ALIGN_ATTRS = {
    "output_size": OpSchema.AttrType.INT, "sampling_ratio": OpSchema.AttrType.INT,
    "aligned": OpSchema.AttrType.INT, "spatial_scales": OpSchema.AttrType.FLOATS,
    "canonical_scale": OpSchema.AttrType.INT, "canonical_level": OpSchema.AttrType.INT,
}
_NMS_ATTRS = {"iou_threshold": OpSchema.AttrType.FLOAT, "score_threshold": OpSchema.AttrType.FLOAT,
              "max_output": OpSchema.AttrType.INT}
_FLOAT_TYPES = ["tensor(float)", "tensor(float16)"]


def _schema(name, inputs, outputs, attrs) -> OpSchema:
    def formal(spec):
        name, type_str, *variadic = spec
        option = OpSchema.FormalParameterOption.Variadic if variadic else OpSchema.FormalParameterOption.Single
        return OpSchema.FormalParameter(name, type_str, param_option=option, is_homogeneous=True)

    return OpSchema(name, DOMAIN, VERSION, inputs=[formal(i) for i in inputs], outputs=[formal(o) for o in outputs],
                    type_constraints=[("T", _FLOAT_TYPES, "")],
                    attributes=[OpSchema.Attribute(a, t, "", required=True) for a, t in attrs.items()])


_OPSET = Opset(DOMAIN, VERSION)
# One variadic input (rois, then the maps): the exporter binds a variadic parameter to all positional
# arguments, so it must be the only one.
_ROI_ALIGN_OP = Op(_OPSET, ROI_ALIGN, _schema(
    ROI_ALIGN, [("rois_and_features", "T", "variadic")], [(ROI_ALIGN_OUTPUT, "T")], _ROI_ALIGN_ATTRS))
_NMS_OP = Op(_OPSET, NMS, _schema(
    NMS, [("boxes", "T"), ("scores", "T"), ("categories", "tensor(int32)")],
    [("num_detections", "tensor(int32)"), ("indices", "tensor(int32)"), ("boxes", "T"), ("scores", "T"),
     ("classes", "tensor(int32)")], _NMS_ATTRS))


def _roi_align_call(rois, features, output_size, sampling_ratio, aligned, spatial_scales, canonical_scale,
                    canonical_level):
    return _ROI_ALIGN_OP(rois, *features, output_size=output_size, sampling_ratio=sampling_ratio,
                         aligned=int(aligned), spatial_scales=list(spatial_scales),
                         canonical_scale=canonical_scale, canonical_level=canonical_level)


def _nms_call(boxes, scores, categories, iou_threshold, score_threshold, max_output):
    return _NMS_OP(boxes, scores, categories, iou_threshold=iou_threshold, score_threshold=score_threshold,
                   max_output=max_output)


def translation_table() -> dict:
    """torch custom op -> the function call that stands for it in the ONNX graph."""
    import torch

    from . import regions  # noqa: F401  (registers the custom ops)

    return {torch.ops.mrcnn_edge.multilevel_roi_align.default: _roi_align_call,
            torch.ops.mrcnn_edge.batched_nms.default: _nms_call}


class _Body:
    """Collects the nodes of a function body; names are unique within it."""

    def __init__(self):
        self.nodes: list[onnx.NodeProto] = []
        self._count = 0

    def __call__(self, op: str, *inputs: str, outputs: int | list[str] = 1, refs=(), **attrs):
        if isinstance(outputs, int):
            self._count += 1
            outputs = [f"{op.lower()}_{self._count}_{i}" for i in range(outputs)]
        node = helper.make_node(op, list(inputs), outputs, **attrs)
        for name, ref, kind in refs:  # attributes taken from the call node
            node.attribute.append(helper.make_attribute_ref(name, kind))
            node.attribute[-1].ref_attr_name = ref
        self.nodes.append(node)
        return outputs[0] if len(outputs) == 1 else outputs

    def const(self, value, dtype=np.int64) -> str:
        return self("Constant", value=helper.make_tensor("v", helper.np_dtype_to_tensor_dtype(np.dtype(dtype)),
                                                         np.shape(value), np.ravel(value).tolist()))

    def attr_tensor(self, ref: str, kind) -> str:
        """The call node's attribute `ref` as a tensor (a scalar, or 1-D for a list)."""
        field = {onnx.AttributeProto.INT: "value_int", onnx.AttributeProto.FLOAT: "value_float",
                 onnx.AttributeProto.FLOATS: "value_floats"}[kind]
        return self("Constant", refs=[(field, ref, kind)])


def _function(name, body, inputs, outputs, attrs, opset: int) -> onnx.FunctionProto:
    return helper.make_function(DOMAIN, name, inputs, list(outputs), body.nodes,
                                [helper.make_opsetid("", opset)], attributes=list(attrs))


def multilevel_roi_align_function(num_levels: int, opset: int, aligned: bool = False) -> onnx.FunctionProto:
    """Body: map each RoI to its level (FPN Eqn. 1, as torchvision's LevelMapper), then per level gather
    its RoIs, RoiAlign them and scatter the result back into RoI order. aligned=False pools as
    torchvision's MultiScaleRoIAlign (`output_half_pixel`), aligned=True as detectron2's ROIAlignV2
    (`half_pixel`). RoiAlign's mode is a string, so it cannot reference the call's int `aligned`: the
    body is made for the model's one value, and export writes the same value on every call node."""
    f, A = _Body(), onnx.AttributeProto
    features = [f"feature_{l}" for l in range(num_levels)]
    rois_shape = f("Shape", "rois")
    B, R = f("Slice", rois_shape, f.const([0]), f.const([1])), f("Slice", rois_shape, f.const([1]), f.const([2]))
    flat = f("Reshape", "rois", f.const([-1, 4]))  # [N,4], N = B*R
    N = f("Mul", B, R)
    image_of_roi = f("Div", f("Range", f.const(0), f("Squeeze", N), f.const(1)), f("Squeeze", R))
    x1, y1, x2, y2 = f("Split", flat, axis=1, num_outputs=4, outputs=4)
    size = f("Sqrt", f("Mul", f("Sub", x2, x1), f("Sub", y2, y1)))  # [N,1]
    ln2 = f.const(math.log(2), np.float32)
    log2 = lambda x: f("Div", f("Log", x), ln2)  # noqa: E731
    canonical_scale = f("Cast", f.attr_tensor("canonical_scale", A.INT), to=TensorProto.FLOAT)
    canonical_level = f("Cast", f.attr_tensor("canonical_level", A.INT), to=TensorProto.FLOAT)
    scales = f.attr_tensor("spatial_scales", A.FLOATS)
    k_min = f("Neg", f("Round", log2(f("Gather", scales, f.const(0)))))
    k_max = f("Neg", f("Round", log2(f("Gather", scales, f.const(num_levels - 1)))))
    level = f("Floor", f("Add", f("Add", canonical_level, log2(f("Div", size, canonical_scale))),
                         f.const(1e-6, np.float32)))
    level = f("Sub", f("Clip", level, k_min, k_max), k_min)  # [N,1], 0-based
    S = f("Reshape", f.attr_tensor("output_size", A.INT), f.const([1]))
    C = f("Slice", f("Shape", features[0]), f.const([1]), f.const([2]))
    pooled = f("ConstantOfShape", f("Concat", N, C, S, S, axis=0))
    for l, feature in enumerate(features):
        in_level = f("Transpose", f("NonZero", f("Squeeze", f("Equal", level, f.const(float(l), np.float32)),
                                                 f.const([1]))))  # [n,1]
        scale = f("Gather", scales, f.const(l))
        rois_l = f("Mul", f("GatherND", flat, in_level), scale)  # RoiAlign below runs at spatial_scale 1
        pooled_l = f("RoiAlign", feature, rois_l, f("GatherND", image_of_roi, in_level), mode="avg",
                     coordinate_transformation_mode="half_pixel" if aligned else "output_half_pixel",
                     spatial_scale=1.0,
                     refs=[("output_height", "output_size", A.INT), ("output_width", "output_size", A.INT),
                           ("sampling_ratio", "sampling_ratio", A.INT)])
        pooled = f("ScatterND", pooled, in_level, pooled_l)
    f("Reshape", pooled, f("Concat", B, R, C, S, S, axis=0), outputs=[ROI_ALIGN_OUTPUT])
    return _function(ROI_ALIGN, f, ["rois", *features], [ROI_ALIGN_OUTPUT], _ROI_ALIGN_ATTRS, opset)


def batched_nms_function(opset: int) -> onnx.FunctionProto:
    """Body: torchvision's batched_nms coordinate trick (each category offset by max coordinate + 1, so
    boxes of different categories never overlap), one NonMaxSuppression, then the selected indices of
    each image laid out in rows of K, -1 padded. NonMaxSuppression keeps scores > score_threshold and
    returns each image's selection in descending score."""
    f, A = _Body(), onnx.AttributeProto
    B = f("Slice", f("Shape", "scores"), f.const([0]), f.const([1]))
    K = f("Reshape", f.attr_tensor("max_output", A.INT), f.const([1]))
    max_coordinate = f("ReduceMax", "boxes", f.const([1, 2]), keepdims=1)  # [B,1,1]
    offsets = f("Mul", f("Unsqueeze", f("Cast", "categories", to=TensorProto.FLOAT), f.const([2])),
                f("Add", max_coordinate, f.const(1.0, np.float32)))
    selected = f("NonMaxSuppression", f("Add", "boxes", offsets), f("Unsqueeze", "scores", f.const([1])), K,
                 f.attr_tensor("iou_threshold", A.FLOAT), f.attr_tensor("score_threshold", A.FLOAT))  # [M,3]
    image, box = (f("Gather", selected, f.const(c), axis=1) for c in (0, 2))  # [M]
    per_image = f("Cast", f("Equal", f("Unsqueeze", image, f.const([1])),
                            f("Range", f.const(0), f("Squeeze", B), f.const(1))), to=TensorProto.INT64)  # [M,B]
    counts = f("ReduceSum", per_image, f.const([0]), keepdims=0)  # [B]
    first_of_image = f("CumSum", counts, f.const(0), exclusive=1)
    M = f("Squeeze", f("Shape", image))
    rank = f("Sub", f("Range", f.const(0), M, f.const(1)), f("Gather", first_of_image, image))
    where = f("Concat", f("Unsqueeze", image, f.const([1])), f("Unsqueeze", rank, f.const([1])), axis=1)
    padded = f("ConstantOfShape", f("Concat", B, K, axis=0), value=helper.make_tensor("v", TensorProto.INT64, [1], [-1]))
    indices = f("ScatterND", padded, where, box)  # [B,K]
    valid = f("GreaterOrEqual", indices, f.const(0))
    at = f("Max", indices, f.const(0))
    zero = f.const(0.0, np.float32)
    f("Cast", counts, to=TensorProto.INT32, outputs=["num_detections"])
    f("Cast", indices, to=TensorProto.INT32, outputs=["indices"])
    at4 = f("Expand", f("Unsqueeze", at, f.const([2])), f("Concat", B, K, f.const([4]), axis=0))
    f("Where", f("Unsqueeze", valid, f.const([2])), f("GatherElements", "boxes", at4, axis=1), zero,
      outputs=["boxes_out"])
    f("Where", valid, f("GatherElements", "scores", at, axis=1), zero, outputs=["scores_out"])
    f("Where", valid, f("GatherElements", "categories", at, axis=1), f.const(0, np.int32), outputs=["classes_out"])
    outputs = ["num_detections", "indices", "boxes_out", "scores_out", "classes_out"]
    return _function(NMS, f, ["boxes", "scores", "categories"], outputs, _NMS_ATTRS, opset)
