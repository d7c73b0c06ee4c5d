"""The rules `mrcnn-edge check` applies, as data: what each rule says, where TensorRT says it, the fix,
and the per-release values (opset and IR ranges, operator table, limits).

Sources, read for this table (headers and docs fetched into a scratch folder, never committed):
- NvInfer.h, NVIDIA/TensorRT branches release/10.3 and release/11.1 (layer documentation);
- NvInferRuntimeBase.h (DataType), same branches;
- onnx/onnx-tensorrt docs/operators.md at 10.1-GA, the newest release branch in the stored snapshot
  (TensorRT 10.3 pins parsers/onnx at 62bdde2, which the snapshot lacks; the parser only gains
  operators between releases, so 10.1-GA's table is a lower bound for 10.3), derived into
  trt_operators.json by tools/derive_trt_operators.py;
- NVIDIA/TensorRT CHANGELOG.md (release/11.1) for the operators each later parser added;
- onnx-tensorrt docs/Changelog.md (9.0 EA: INT64 native, local functions imported);
- the TensorRT developer guide, "Explicit Quantization" and "Strong Typing" chapters (quoted by rule).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

NVINFER_10_3 = "NvInfer.h (NVIDIA/TensorRT release/10.3)"
NVINFER_11_1 = "NvInfer.h (NVIDIA/TensorRT release/11.1)"
OPERATORS_MD = "onnx/onnx-tensorrt docs/operators.md @ 10.1-GA (96e7811)"


@dataclass(frozen=True)
class Rule:
    name: str
    says: str
    fix: str
    source: str


RULES = {r.name: r for r in (
    Rule("ir-version", "the model's IR version is outside the parser's range",
         "re-export with the toolkit's onnx (`mrcnn-edge export`) or lower ir_version",
         "the parser reads the ONNX protobuf of its ONNX submodule: 1.16 (IR 10) for 10.1-GA/10.3, 1.17 (IR 10) "
         "from 10.6 (onnx-tensorrt Changelog), 1.20 (IR 13) for 11.x (TensorRT ONNX Opset Guide)"),
    Rule("opset", "the default-domain opset is outside the parser's range",
         "re-export at an opset in range (`mrcnn-edge export` writes 18)",
         f"{OPERATORS_MD}: 'opset 9 to opset 20'; TensorRT ONNX Opset Guide (11.x): opset 9 to 25"),
    Rule("op-unsupported", "the parser has no importer for this operator",
         "replace the subgraph with supported ops or a plugin (graph surgery)",
         f"{OPERATORS_MD} 'Supported' column, plus operators added per NVIDIA/TensorRT CHANGELOG.md"),
    Rule("op-dtype", "an input type the operator does not support",
         "cast the input to a supported type before this node",
         f"{OPERATORS_MD} 'Supported Types' column"),
    # Since 9.0 INT64 is a native type: the parser neither casts nor rejects it where an operator lists INT64.
    # In the 10.1-GA table every operator that takes INT32 also takes INT64, so in practice this rule fires
    # for plugin inputs (BatchedNMS_TRT's categories are INT32) and for foreign graphs' odd operators.
    Rule("int64-where-int32", "an INT64 input where TensorRT supports INT32 only",
         "Cast the input to INT32 before this node (TensorRT does not cast INT64 down since 9.0)",
         "onnx-tensorrt docs/Changelog.md 9.0 EA: 'The ONNX parser no longer automatically casts INT64 to "
         f"INT32'; per-op types from {OPERATORS_MD}; plugin inputs from the plugins' ONNX schemas"),
    Rule("qdq-input-type", "DequantizeLinear input (and QuantizeLinear output) must be INT8, FP8 or INT4",
         "keep this tensor float (e.g. Conv/Gemm biases: quantize_static with QuantizeBias=False)",
         f"{NVINFER_10_3} and {NVINFER_11_1}, IDequantizeLayer: 'supports DataType::kINT8, DataType::kFP8 or "
         "DataType::kINT4 precision'; IQuantizeLayer output likewise"),
    Rule("qdq-zero-point", "zero points must be all zero and of the quantized type (symmetric only)",
         "quantize symmetrically with signed INT8 (ActivationSymmetric, WeightSymmetric, QInt8)",
         f"{NVINFER_10_3}, IQuantizeLayer/IDequantizeLayer: 'zeroPt must only contain zero-valued coefficients'; "
         "its type 'must match the output data type' / 'be identical to the input's data type'"),
    Rule("qdq-scale", "scales must be positive float constants of rank <= 1 matching the float side's type",
         "compute scales at quantisation time as float initializers",
         f"{NVINFER_10_3}, IQuantizeLayer/IDequantizeLayer: scale 'must be a build-time constant', 'All scale "
         "coefficients must have positive values'; strongly typed: 'input data type must match the scale data type'"),
    Rule("qdq-per-channel", "per-channel scales on an activation (only weights may be per-channel)",
         "quantize activations per tensor (per_channel applies to weights only)",
         f"{NVINFER_10_3}, IDequantizeLayer: 'Per-channel dequantization is supported only for input that is "
         "rooted at an IConstantLayer (i.e. weights)'; developer guide, Explicit Quantization"),
    Rule("topk-k", "TopK's K must be a constant of at most the layer's limit, with sorted=1",
         "make K a constant initializer <= the limit (cap pre-NMS top-n)",
         f"{NVINFER_10_3} and {NVINFER_11_1}, ITopKLayer::setK: 'Currently only values up to 3840 are supported'; "
         "a K tensor input 'larger than 3840 will result in a runtime error'; operators.md: 'sorted must be 1'"),
    Rule("input-dtype", "a network input type a strongly typed network does not take, or a UINT8 input "
                        "not cast straight to FP32/FP16",
         "make the input FP32/FP16/INT32/INT64/BOOL, or UINT8 feeding only Casts to float",
         f"{OPERATORS_MD}: 'UINT8 is only supported as network input or output tensor types', quantized types "
         "'only through quantization'; NvInferRuntimeBase.h DataType::kUINT8: convert UINT8 inputs to "
         "{kFLOAT, kHALF} before other layers"),
    Rule("plugin", "a plugin node whose op, plugin_version, plugin_namespace or attributes do not match "
                   "the plugin creator",
         "re-run `mrcnn-edge surgery` (it writes the creators' fields) or fix the node's attributes",
         "the parser looks the creator up by op type, plugin_version and plugin_namespace and passes the "
         "remaining attributes as its PluginFields (onnx-tensorrt ModelImporter fallback plugin importer); "
         "the field lists are the C++ creators' own (_plugin_ref.plugin_fields)"),
    Rule("local-function", "a call of a local function",
         "run `mrcnn-edge surgery` on it (`mrcnn-edge build` does): its regions become plugin nodes",
         "the parser imports local functions since 9.0 EA (onnx-tensorrt Changelog), but mrcnn-edge's region "
         "functions stand for our plugins: built from standard ops they would not be the plugins "
         "(ARCHITECTURE.md)"),
)}


@dataclass(frozen=True)
class Release:
    """What one TensorRT release's parser and builder accept."""
    name: str
    ir_version: tuple[int, int]
    opset: tuple[int, int]
    added_operators: tuple[str, ...] = ()  # beyond the 10.1-GA table
    quantized_types: tuple[str, ...] = ("INT8", "FP8", "INT4")
    network_input_types: tuple[str, ...] = ("FP32", "FP16", "BF16", "INT32", "INT64", "BOOL", "UINT8")
    topk_max: int = 3840
    notes: tuple[str, ...] = field(default=())


# Operators the parser added after 10.1-GA (NVIDIA/TensorRT CHANGELOG.md, release/11.1, "Parsers" entries).
_ADDED_10_14 = ("Attention",)
_ADDED_10_15 = ("RotaryEmbedding", "RMSNormalization", "TensorScatter")
_ADDED_11_0 = ("Swish",)

RELEASES = {
    "10.3": Release("10.3", (3, 10), (9, 20)),
    # the newest 10.x (10.16): ONNX 1.17 submodule (IR 10, opset 22) from 10.6
    "10.x": Release("10.x", (3, 10), (9, 22), _ADDED_10_14 + _ADDED_10_15),
    "11.x": Release("11.x", (3, 13), (9, 25), _ADDED_10_14 + _ADDED_10_15 + _ADDED_11_0),
}
DEFAULT_RELEASE = "10.3"  # JetPack 6, the oldest TensorRT the toolkit supports



def release_for(tensorrt_version: str) -> str:
    """The rule set for an installed TensorRT version string ('10.3.0.30' -> '10.3', '10.8.0' -> '10.x')."""
    if tensorrt_version.startswith("10.3."):
        return "10.3"
    return "11.x" if tensorrt_version.startswith("11.") else "10.x"


_TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trt_operators.json")


def operator_table() -> dict:
    """trt_operators.json: {"source", "opset", "operators": {op: [types]}, "unsupported", "normalised"}."""
    with open(_TABLE) as f:
        return json.load(f)
