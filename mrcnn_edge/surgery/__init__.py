"""Graph surgery: the export's marked regions -> our TensorRT plugin nodes, and CPU execution of the result."""
