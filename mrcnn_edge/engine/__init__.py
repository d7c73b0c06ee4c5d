"""The last stage: TensorRT engine build (GPU machines), its metadata check, Triton model repositories.
TensorRT is imported lazily, so everything here but the build itself works without it."""
