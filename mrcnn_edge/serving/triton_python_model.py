"""model.py of the `python` kind of `mrcnn-edge export-triton`: runs the model.onnx beside it in ONNX Runtime
inside Triton's Python backend, for servers without Triton's ONNX Runtime backend.

Copied into the repository as is and run by the backend's stub, not by mrcnn-edge: it imports only
numpy, onnxruntime and the stub's own triton_python_backend_utils. The stub needs numpy < 2 (with
numpy 2 its tensors arrive as zeros); `mrcnn-edge serve` gives it such an environment.
With dynamic batching Triton hands over several requests at once: their images are run as one batch.
"""
import json
import os

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

INPUT = "images"


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        parameters = {k: json.loads(v["string_value"]) for k, v in config.get("parameters", {}).items()}
        self.batched = config.get("max_batch_size", 0) > 0
        # the outputs config.pbtxt names (mrcnn-edge writes it from the contract): no second spelling here
        self.outputs = [output["name"] for output in config["output"]]
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(parameters.get("intra_op_threads", 0))
        options.inter_op_num_threads = 1  # one chain of big ops, as the client-side ONNX Runtime backend
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def execute(self, requests):
        images = [pb_utils.get_input_tensor_by_name(r, INPUT).as_numpy() for r in requests]
        try:
            if self.batched and len(images) > 1:  # one run for the batch Triton formed, split back per request
                outputs = self.session.run(self.outputs, {INPUT: np.concatenate(images)})
                splits = np.cumsum([len(i) for i in images])[:-1]
                per_request = list(zip(*(np.split(o, splits) for o in outputs)))
            else:
                per_request = [self.session.run(self.outputs, {INPUT: i}) for i in images]
            return [pb_utils.InferenceResponse([pb_utils.Tensor(n, np.ascontiguousarray(v))
                                                for n, v in zip(self.outputs, out)]) for out in per_request]
        except Exception as e:  # ONNX Runtime's error goes back to each client, the server stays up
            return [pb_utils.InferenceResponse(error=pb_utils.TritonError(f"onnxruntime: {e}")) for _ in requests]
