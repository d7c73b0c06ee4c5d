"""Dynamic K on the CPU: the trimmed mask branch against the exported fixed-K graph it came from."""
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from mrcnn_edge.data.synthetic import VAL, sample
from mrcnn_edge.runtime.backends.mask_rows import trim_mask_rows
from mrcnn_edge.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend

OUTPUTS = ("num_detections", "boxes", "scores", "classes", "masks")


def _sessions(path):
    model = onnx.load(path)
    assert trim_mask_rows(model)
    return ort.InferenceSession(path), ort.InferenceSession(model.SerializeToString())


def test_trimmed_mask_branch_equals_fixed_k(exported_model):
    full, trimmed = _sessions(exported_model("shipped", (VAL.height, VAL.width)))
    for i in range(2):
        images = np.ascontiguousarray(sample(VAL, i)[0].transpose(2, 0, 1)[None])
        expected = dict(zip(OUTPUTS, full.run(list(OUTPUTS), {"images": images})))
        got = dict(zip(OUTPUTS, trimmed.run(list(OUTPUTS), {"images": images})))
        n = int(expected["num_detections"][0])
        K = expected["masks"].shape[1]
        assert 0 < n < K  # the test covers a real cut
        assert got["masks"].shape == (1, n, 28, 28)
        np.testing.assert_array_equal(got["masks"], expected["masks"][:, :n])
        for name in OUTPUTS[:4]:
            np.testing.assert_array_equal(got[name], expected[name])


def test_no_detection_keeps_one_row(exported_model):
    model = onnx.load(exported_model("shipped", (VAL.height, VAL.width)))
    nms = next(n for n in model.graph.node if "num_detections" in n.output)
    next(a for a in nms.attribute if a.name == "score_threshold").f = 2.0  # above every score
    assert trim_mask_rows(model)
    trimmed = ort.InferenceSession(model.SerializeToString())
    images = np.ascontiguousarray(sample(VAL, 0)[0].transpose(2, 0, 1)[None])
    num, masks = trimmed.run(["num_detections", "masks"], {"images": images})
    assert num[0] == 0 and masks.shape[1] == 1


def test_backend_keeps_the_contract_shape(exported_model):
    backend = OnnxRuntimeBackend(exported_model("shipped", (VAL.height, VAL.width)), threads=1)
    out = backend.infer(np.ascontiguousarray(sample(VAL, 0)[0].transpose(2, 0, 1)[None]))
    n, K = int(out["num_detections"][0]), out["boxes"].shape[1]
    assert out["masks"].shape == (1, K, 28, 28) and not out["masks"][0, n:].any() and out["masks"][0, :n].any()


def test_foreign_graph_is_left_alone():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x],
                                                [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])]))
    before = model.SerializeToString()
    assert not trim_mask_rows(model)
    assert model.SerializeToString() == before
