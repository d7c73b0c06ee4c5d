"""Dump the plugin nodes' real inputs and CPU-reference outputs from one frame, for the glue harness.

    PYTHONPATH=. python tools/dump_plugin_inputs.py OUT_DIR [--model model.trt.onnx]

Without --model it exports the shipped model and runs surgery into OUT_DIR first. It then runs
model.trt.onnx on the CPU (PluginGraphRunner, plugin nodes served by the CPU reference) on synthetic
validation frame 0 and writes, per plugin node, its attributes and its input and output arrays.
Each MultilevelRoIAlign_TRT node also gets an fp16 case: its maps cast to float16 and the
reference's fp16 output (the model's own plugin graph feeds it float32 only).

OUT_DIR/manifest.txt is what plugins/tests/plugin_glue_harness.cpp reads (a line format, so the
harness needs no JSON parser); manifest.json says the same for people. Arrays are raw
little-endian .bin files. Float attributes are written as their float32 bit patterns, so the
harness gets exactly the value surgery wrote (the NMS of the RPN has a denormal threshold).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

_DTYPES = {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16", np.dtype(np.int32): "i32"}


def export_model(out_dir: str) -> str:
    """The shipped model through `mrcnn-edge export` and `surgery`, as the README runs them."""
    from mrcnn_edge.cli import main as cli

    onnx_path = os.path.join(out_dir, "model.onnx")
    for args in (["export", "-o", onnx_path], ["surgery", onnx_path]):
        if cli(args) != 0:
            sys.exit(f"mrcnn-edge {args[0]} failed")
    return os.path.join(out_dir, "model.trt.onnx")


def record_plugin_calls(model_path: str) -> list[tuple]:
    """Run one frame, keeping (node, inputs, outputs) of every plugin node call."""
    from mrcnn_edge.data.synthetic import VAL, sample
    from mrcnn_edge.surgery import cpu_runner
    from mrcnn_edge.surgery.plugins import run_plugin_node

    calls = []

    def recording(node, inputs, impl="reference"):
        outputs = run_plugin_node(node, inputs, impl)  # the runner's own impl: the reference
        calls.append((node, [np.ascontiguousarray(a) for a in inputs], outputs))
        return outputs

    runner = cpu_runner.PluginGraphRunner(model_path)
    image = sample(VAL, 0)[0]
    cpu_runner.run_plugin_node = recording  # the runner calls plugin nodes through this name
    try:
        runner.run({"images": np.ascontiguousarray(image.transpose(2, 0, 1)[None])})
    finally:
        cpu_runner.run_plugin_node = run_plugin_node
    return calls


def fp16_case(node, inputs: list[np.ndarray]) -> tuple:
    from mrcnn_edge.surgery.plugins import run_plugin_node

    halves = [inputs[0]] + [m.astype(np.float16) for m in inputs[1:]]
    return node, halves, run_plugin_node(node, halves)


def attribute_lines(node) -> tuple[list[str], dict]:
    from mrcnn_edge.surgery.plugins import attributes

    lines, shown = [], {}
    for name, value in sorted(attributes(node).items()):
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if all(isinstance(v, int) for v in values):
            lines.append(f"attr {name} i32 {len(values)} " + " ".join(str(v) for v in values))
        else:
            bits = np.asarray(values, np.float32).view(np.uint32)
            lines.append(f"attr {name} f32 {len(values)} " + " ".join(f"{b:08x}" for b in bits))
        shown[name] = value
    return lines, shown


def array_line(kind: str, array: np.ndarray, out_dir: str, stem: str) -> tuple[str, dict]:
    file = f"{stem}.bin"
    array.astype(array.dtype.newbyteorder("<"), copy=False).tofile(os.path.join(out_dir, file))
    dtype = _DTYPES[array.dtype]
    line = f"{kind} {dtype} {file} {array.ndim} " + " ".join(str(d) for d in array.shape)
    return line.rstrip(), {"file": file, "dtype": dtype, "shape": list(array.shape)}


def write_case(name: str, node, inputs, outputs, out_dir: str) -> tuple[list[str], dict]:
    attr_lines, attrs = attribute_lines(node)
    lines = [f"case {name} {node.op_type}", *attr_lines]
    shown = {"case": name, "op": node.op_type, "attributes": attrs, "inputs": [], "outputs": []}
    for kind, key, arrays in (("in", "inputs", inputs), ("out", "outputs", outputs)):
        for i, array in enumerate(arrays):
            line, entry = array_line(kind, np.ascontiguousarray(array), out_dir, f"{name}.{kind}{i}")
            lines.append(line)
            shown[key].append(entry)
    lines.append("end")
    return lines, shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--model", help="model.trt.onnx; default: export and surgery into OUT_DIR")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    model = args.model or export_model(args.out_dir)
    cases = []
    for node, inputs, outputs in record_plugin_calls(model):
        cases.append((node.name, node, inputs, outputs))
        if node.op_type == "MultilevelRoIAlign_TRT":
            cases.append((f"{node.name}@fp16", *fp16_case(node, inputs)))
    lines, shown = [], []
    for name, node, inputs, outputs in cases:
        case_lines, case_shown = write_case(name, node, inputs, outputs, args.out_dir)
        lines += case_lines
        shown.append(case_shown)
    with open(os.path.join(args.out_dir, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out_dir, "manifest.json"), "w") as f:
        json.dump({"model": model, "frame": "synthetic VAL 0", "cases": shown}, f, indent=1)
    print(f"{len(cases)} plugin cases from {model} -> {args.out_dir}/manifest.txt")


if __name__ == "__main__":
    main()
