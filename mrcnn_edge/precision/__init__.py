"""Precision: FP16 graphs and INT8 graphs with explicit Q/DQ, all runnable in ONNX Runtime on the CPU."""
