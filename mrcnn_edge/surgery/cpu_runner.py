"""Run a TensorRT-ready graph on the CPU: ONNX Runtime for standard ops, and for plugin nodes either the
plugins' CPU references (`mrcnn_edge._plugin_ref`, the same C++ math as the CUDA kernels) or the CUDA kernels
themselves on the CPU execution layer (plugin_impl="kernels").

The graph is cut at its plugin nodes into segments of standard ops. Each segment becomes a small ONNX
model that ONNX Runtime runs; plugin nodes run in between on numpy arrays, with no Python-list
conversion (the onnxruntime-extensions Python-op hook returns lists: 5x slower here). Segments are
compiled lazily, on the first call, from the dtypes of the arrays that actually reach them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..threads import ort_session_options
from .plugin_impls import check_plugin_impl
from .plugins import PLUGIN_DOMAIN, run_plugin_node


@dataclass
class _Segment:
    nodes: list[onnx.NodeProto]
    inputs: list[str] = field(default_factory=list)  # produced before the segment, consumed inside it
    outputs: list[str] = field(default_factory=list)  # produced inside, consumed after it or by the graph
    session: object = None


def _names_used(node: onnx.NodeProto) -> set[str]:
    """A node's inputs, including outer-scope names its subgraphs (If/Loop bodies) read."""
    used = {n for n in node.input if n}
    for attr in node.attribute:
        for graph in ([attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)):
            inner = {o for n in graph.node for o in n.output} | {i.name for i in graph.input}
            inner |= {t.name for t in graph.initializer}
            for n in graph.node:
                used |= _names_used(n) - inner
    return used


class PluginGraphRunner:
    """Executes a graph with plugin nodes: `runner.run({"images": array}) -> {output name: array}`."""

    def __init__(self, model: onnx.ModelProto | str, threads: int | None = None, plugin_impl: str = "reference"):
        self.model = onnx.load(model) if isinstance(model, str) else model
        self.threads = threads
        self.plugin_impl = check_plugin_impl(plugin_impl)
        graph = self.model.graph
        self.initializers = {t.name for t in graph.initializer}
        self._constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer
                           if any(t.name in n.input for n in graph.node if n.domain == PLUGIN_DOMAIN)}
        self.graph_outputs = [o.name for o in graph.output]
        self.steps: list[_Segment | onnx.NodeProto] = self._cut(list(graph.node))
        self._bind_segment_io()

    def _cut(self, nodes: list[onnx.NodeProto]) -> list:
        steps, current = [], []
        for node in nodes:
            if node.domain == PLUGIN_DOMAIN:
                if current:
                    steps.append(_Segment(current))
                steps.append(node)
                current = []
            else:
                current.append(node)
        if current:
            steps.append(_Segment(current))
        return steps

    def _bind_segment_io(self) -> None:
        later_needs = set(self.graph_outputs)
        for step in reversed(self.steps):
            if isinstance(step, _Segment):
                produced = {o for n in step.nodes for o in n.output if o}
                used = set().union(*(_names_used(n) for n in step.nodes))
                step.outputs = sorted(produced & later_needs)
                step.inputs = sorted(used - produced - self.initializers)
                later_needs = (later_needs - produced) | set(step.inputs)
            else:
                later_needs |= {n for n in step.input if n}

    def _compile(self, segment: _Segment, env: dict[str, np.ndarray]) -> None:
        import onnxruntime as ort

        graph = self.model.graph
        used = set().union(*(_names_used(n) for n in segment.nodes))
        inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(env[n].dtype), env[n].shape)
                  for n in segment.inputs]
        outputs = [helper.make_empty_tensor_value_info(n) for n in segment.outputs]
        initializers = [t for t in graph.initializer if t.name in used]
        sub = helper.make_graph(segment.nodes, "segment", inputs, outputs, initializers)
        model = helper.make_model(sub, opset_imports=self.model.opset_import, functions=self.model.functions,
                                  ir_version=self.model.ir_version)
        options = ort_session_options(ort, self.threads)
        segment.session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        env = {**self._constants, **feeds}
        for step in self.steps:
            if isinstance(step, _Segment):
                if step.session is None:
                    self._compile(step, env)
                results = step.session.run(step.outputs, {n: env[n] for n in step.inputs})
                env.update(zip(step.outputs, results))
            else:
                env.update(zip(step.output, run_plugin_node(step, [env[n] for n in step.input], self.plugin_impl)))
        return {name: env[name] for name in self.graph_outputs}
