"""A dynamic batch axis: each image of a batch gets exactly what the batch-1 export gives it alone."""
import numpy as np

from mrcnn_edge.data.synthetic import VAL, sample
from mrcnn_edge.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend


def test_batched_rows_equal_single_image_runs(exported_model):
    size = (VAL.height, VAL.width)
    batched = OnnxRuntimeBackend(exported_model("shipped", size, batch_size=None), threads=2)
    single = OnnxRuntimeBackend(exported_model("shipped", size), threads=2)
    assert isinstance(batched.input_shape[0], str) and single.input_shape[0] == 1
    images = np.stack([sample(VAL, i)[0].transpose(2, 0, 1) for i in range(3)])
    together = batched.infer(images)
    for b in range(3):
        alone = single.infer(np.ascontiguousarray(images[b:b + 1]))
        n = int(alone["num_detections"][0])
        assert n > 0 and together["num_detections"][b] == n
        for name in ("boxes", "scores", "classes", "masks"):  # rows past n are padding; batched GEMMs round apart
            np.testing.assert_allclose(together[name][b, :n], alone[name][0, :n], atol=1e-4, err_msg=name)
