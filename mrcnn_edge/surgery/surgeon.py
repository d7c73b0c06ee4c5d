"""Graph surgery: `model.onnx` -> `model.trt.onnx`, the export's regions swapped for our TensorRT plugins.

Export writes each multi-level RoIAlign and each NMS as one call of a local function in the domain
`mrcnn_edge.regions`, so surgery finds them by that marker, never by node names (those change with
every PyTorch release). Each call node becomes one plugin node with the same inputs and outputs;
the function bodies are dropped with it. The output contract is unchanged.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import onnx
import onnx_graphsurgeon as gs

from ..errors import UserError
from ..export.onnx_functions import DOMAIN as REGION_DOMAIN
from ..files import REEXPORT, read_onnx
from ..names import plugin_graph_path
from ..sidecar import derive_sidecar
from .plugins import NMS, PLUGIN_DOMAIN, PLUGIN_NAMESPACE, PLUGIN_VERSION, ROI_ALIGN, check_plugin_node
from .schemas import register_plugin_schemas

MIN_OPSET, MAX_OPSET = 18, 23


@dataclass(frozen=True)
class Region:
    plugin: str
    expected: int
    what: str


REGIONS = {
    "MultilevelRoIAlign": Region(ROI_ALIGN, 2, "multi-level RoIAlign (box and mask poolers)"),
    "BatchedNMS": Region(NMS, 2, "batched NMS (RPN proposals and box-head detections)"),
}


@dataclass
class SurgeryResult:
    path: str
    nodes_before: int
    nodes_after: int
    replaced: dict[str, list[str]] = field(default_factory=dict)  # plugin -> node names
    plugin_attributes: dict[str, dict] = field(default_factory=dict)  # node name -> attributes
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [f"wrote {self.path} in {self.seconds:.1f} s: {self.nodes_before} nodes before, "
                 f"{self.nodes_after} after"]
        lines += [f"  {plugin}: replaced {len(names)} regions ({', '.join(names)})"
                  for plugin, names in self.replaced.items()]
        for name, attrs in self.plugin_attributes.items():
            shown = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
            lines.append(f"  {name}: {shown}")
        return "\n".join(lines)


def _check_opset(model: onnx.ModelProto, path: str) -> None:
    versions = {o.domain: o.version for o in model.opset_import}
    opset = versions.get("", versions.get("ai.onnx"))
    if opset is None or not MIN_OPSET <= opset <= MAX_OPSET:
        raise UserError(f"{path} uses ONNX opset {opset}; surgery supports {MIN_OPSET}..{MAX_OPSET}: "
                        "re-export with `mrcnn-edge export`")


def _plugin_attrs(region_op: str, attrs: dict) -> dict:
    """Region attributes -> the plugin creator's fields (the plugin takes a 2-D output size)."""
    attrs = dict(attrs)
    if region_op == "MultilevelRoIAlign":
        size = attrs["output_size"]
        attrs["output_size"] = [size, size] if isinstance(size, int) else list(size)
        attrs["canonical_scale"] = float(attrs["canonical_scale"])
    return {**attrs, "plugin_version": PLUGIN_VERSION, "plugin_namespace": PLUGIN_NAMESPACE}


def _swap_regions(graph: gs.Graph, path: str) -> dict[str, list[str]]:
    found = {op: [n for n in graph.nodes if n.domain == REGION_DOMAIN and n.op == op] for op in REGIONS}
    unknown = sorted({n.op for n in graph.nodes if n.domain == REGION_DOMAIN} - set(REGIONS))
    if unknown:
        raise UserError(f"{path} has region ops this surgery does not know: {unknown}")
    for op, region in REGIONS.items():
        if len(found[op]) != region.expected:
            raise UserError(f"{path}: looked for {region.expected} {region.what} as '{REGION_DOMAIN}.{op}' nodes, "
                            f"found {len(found[op])}: export the model with `mrcnn-edge export`")
    replaced = {}
    for op, nodes in found.items():
        for node in nodes:
            node.attrs = _plugin_attrs(op, node.attrs)
            node.op, node.domain = REGIONS[op].plugin, PLUGIN_DOMAIN
        replaced[REGIONS[op].plugin] = [n.name for n in nodes]
    graph.functions = [f for f in graph.functions if f.domain != REGION_DOMAIN]
    return replaced


def _finish(model: onnx.ModelProto) -> onnx.ModelProto:
    imports = [o for o in model.opset_import if o.domain not in (REGION_DOMAIN, PLUGIN_DOMAIN)]
    del model.opset_import[:]
    model.opset_import.extend(imports + [onnx.helper.make_opsetid(PLUGIN_DOMAIN, 1)])
    register_plugin_schemas()
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model, full_check=True)
    for node in model.graph.node:
        if node.domain == PLUGIN_DOMAIN:
            check_plugin_node(node)
    leftovers = [n.op_type for n in model.graph.node if n.op_type in ("RoiAlign", "NonMaxSuppression")]
    if leftovers:
        raise UserError(f"standard {sorted(set(leftovers))} nodes remain outside the plugin regions: "
                        "the export did not mark them")
    return model


def surgeon(onnx_in: str, onnx_out: str | None = None) -> SurgeryResult:
    """Replace every region of `onnx_in` with its plugin node; writes `model.trt.onnx` and its sidecar."""
    start = time.perf_counter()
    if not os.path.isfile(onnx_in):
        raise UserError(f"model not found: {onnx_in} (run `mrcnn-edge export` first)")
    onnx_out = onnx_out or plugin_graph_path(onnx_in)
    model = read_onnx(onnx_in, fix=REEXPORT)
    _check_opset(model, onnx_in)
    graph = gs.import_onnx(model)
    before = len(graph.nodes)
    replaced = _swap_regions(graph, onnx_in)
    graph.cleanup(remove_unused_graph_inputs=False).toposort()
    with gs.logger.G_LOGGER.suppress(gs.logger.G_LOGGER.ERROR):  # its size advice goes to stdout, not ours
        graph.fold_constants().cleanup()
    model = _finish(gs.export_onnx(graph))
    onnx.save(model, onnx_out)
    derive_sidecar(onnx_in, onnx_out, target="tensorrt", plugins={k: len(v) for k, v in replaced.items()},
                   plugin_namespace=PLUGIN_NAMESPACE, plugin_version=PLUGIN_VERSION)
    attrs = {n.name: {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
             for n in model.graph.node if n.domain == PLUGIN_DOMAIN}
    return SurgeryResult(onnx_out, before, len(model.graph.node), replaced, attrs, time.perf_counter() - start)
