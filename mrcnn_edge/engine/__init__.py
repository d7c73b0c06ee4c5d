"""The last stage: TensorRT engine build (GPU machines), its metadata check, the DeepStream bundle.
TensorRT is imported lazily, so everything here but the build itself works without it."""
