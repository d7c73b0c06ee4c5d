"""TensorRT's ONNX-parser and strongly-typed-builder rules, as data, checked on a graph without TensorRT."""
