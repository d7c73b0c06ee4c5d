"""The last stage: the TensorRT engine build (GPU machines) and its metadata check. Engines only: without
TensorRT the chain (mrcnn_edge/chain.py) builds the CPU model instead. TensorRT is imported lazily, so
everything here but the build itself works without it."""
