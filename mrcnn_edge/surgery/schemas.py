"""ONNX schemas of the plugin ops, so `onnx.checker` checks plugin nodes like standard ones.

Attribute names and kinds come from the C++ creators' field lists (`_plugin_ref.plugin_fields`).
"""
from __future__ import annotations

import onnx
from onnx.defs import OpSchema

from .plugins import NMS, PLUGIN_DOMAIN, ROI_ALIGN, _ref

_FLOAT = ["tensor(float)", "tensor(float16)"]
_IO = {
    ROI_ALIGN: ([("rois", "T", False), ("features", "T", True)], [("pooled", "T")]),
    NMS: ([("boxes", "T", False), ("scores", "T", False), ("categories", "tensor(int32)", False)],
          [("num_detections", "tensor(int32)"), ("indices", "tensor(int32)"), ("boxes", "T"), ("scores", "T"),
           ("classes", "tensor(int32)")]),
}


def _attr_type(kind: str, length) -> OpSchema.AttrType:
    scalar = length == 1  # None: a list of any length
    if "float" in kind:
        return OpSchema.AttrType.FLOAT if scalar else OpSchema.AttrType.FLOATS
    if "int" in kind:
        return OpSchema.AttrType.INT if scalar else OpSchema.AttrType.INTS
    return OpSchema.AttrType.STRING


def _schema(op: str) -> OpSchema:
    inputs, outputs = _IO[op]
    Param, Option = OpSchema.FormalParameter, OpSchema.FormalParameterOption
    attrs = [OpSchema.Attribute(name, _attr_type(kind, length), "", required=True)
             for name, kind, length in _ref().plugin_fields(op)]
    attrs += [OpSchema.Attribute(a, OpSchema.AttrType.STRING, "", required=True)
              for a in ("plugin_version", "plugin_namespace")]
    return OpSchema(
        op, PLUGIN_DOMAIN, 1,
        inputs=[Param(n, t, param_option=Option.Variadic if v else Option.Single) for n, t, v in inputs],
        outputs=[Param(n, t) for n, t in outputs], type_constraints=[("T", _FLOAT, "")], attributes=attrs)


def register_plugin_schemas() -> None:
    for op in _IO:
        if not onnx.defs.has(op, PLUGIN_DOMAIN):
            onnx.defs.register_schema(_schema(op))
