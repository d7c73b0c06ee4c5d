"""`mrcnn-edge inspect`: what a model artifact is, in the spirit of `polygraphy inspect model`."""
from __future__ import annotations

import collections
import json
import os

import onnx
from onnx import helper

from .errors import UserError
from .files import read_onnx
from .sidecar import sidecar_path
from .surgery.plugins import PLUGIN_DOMAIN


def _tensor(value_info: onnx.ValueInfoProto) -> str:
    t = value_info.type.tensor_type
    dims = [d.dim_param or str(d.dim_value) for d in t.shape.dim]
    return f"{value_info.name:<16} {helper.tensor_dtype_to_np_dtype(t.elem_type).name:<8} [{','.join(dims)}]"


def describe_model(path: str) -> str:
    if not os.path.isfile(path):
        raise UserError(f"model not found: {path}")
    model = read_onnx(path, weights=False)
    graph = model.graph
    ops = collections.Counter(n.op_type for n in graph.node)
    opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)
    lines = [f"{path}: {len(graph.node)} nodes, {os.path.getsize(path) / 2**20:.1f} MB, opsets: {opsets}",
             "Inputs:"] + [f"  {_tensor(i)}" for i in graph.input]
    lines += ["Outputs:"] + [f"  {_tensor(o)}" for o in graph.output]
    plugins = [n for n in graph.node if n.domain == PLUGIN_DOMAIN]
    regions = [n for n in graph.node if n.domain not in ("", "ai.onnx", PLUGIN_DOMAIN)]
    if plugins:
        lines.append("Plugin nodes:")
        for n in plugins:
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
            lines.append(f"  {n.op_type} {n.name!r}: {len(n.input)} inputs, {attrs}")
    if regions:
        lines.append("Plugin regions (local functions, replaced by `mrcnn-edge surgery`):")
        lines += [f"  {n.domain}.{n.op_type} {n.name!r}" for n in regions]
    lines.append("Ops: " + ", ".join(f"{op} {k}" for op, k in ops.most_common()))
    side = sidecar_path(path)
    if os.path.isfile(side):
        with open(side) as f:
            lines.append("Sidecar: " + json.dumps(json.load(f)))
    else:
        lines.append("Sidecar: none (not exported by mrcnn-edge)")
    return "\n".join(lines)
