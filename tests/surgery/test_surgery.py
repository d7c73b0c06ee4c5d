"""Surgery: model.onnx -> model.trt.onnx, run on the CPU with the plugins' reference, against ONNX Runtime."""
import random
import string

import numpy as np
import onnx
import pytest
from onnx import helper

from mrcnn_edge.data.synthetic import VAL, sample
from mrcnn_edge.errors import UserError
from mrcnn_edge.runtime.preprocess import letterbox
from mrcnn_edge.surgery.cpu_runner import PluginGraphRunner
from mrcnn_edge.surgery.plugins import NMS, PLUGIN_DOMAIN, ROI_ALIGN, check_plugin_node
from mrcnn_edge.surgery.surgeon import surgeon
from mrcnn_edge.threads import ort_session_options

CASES = [  # (arch, H, W): every architecture, square and non-square, shared with tests/export
    ("shipped", 512, 512), ("shipped", 320, 448),
    ("maskrcnn_resnet50_fpn", 320, 416), ("maskrcnn_resnet50_fpn", 384, 384),
    ("maskrcnn_resnet50_fpn_v2", 320, 416), ("maskrcnn_resnet50_fpn_v2", 352, 320),
]
NUM_IMAGES = 2  # each image more detections of every architecture and size (a random init: 25, all kept)


def _ort_session(path):
    import onnxruntime as ort

    return ort.InferenceSession(path, ort_session_options(ort), providers=["CPUExecutionProvider"])


def _run_ort(session, images):
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, {"images": images})))


@pytest.mark.parametrize("arch,height,width", CASES)
def test_trt_graph_on_cpu_matches_onnxruntime(exported_model, surgeried_model, arch, height, width):
    path = exported_model(arch, (height, width))
    result = surgeried_model(arch, (height, width))
    assert set(result.replaced) == {ROI_ALIGN, NMS} and all(len(v) == 2 for v in result.replaced.values())
    session, runner = _ort_session(path), PluginGraphRunner(result.path)
    for i in range(NUM_IMAGES):
        images, _ = letterbox(sample(VAL, i)[0], (height, width))
        want, got = _run_ort(session, images), runner.run({"images": images})
        n = int(want["num_detections"][0])
        assert got["num_detections"][0] == n
        assert np.array_equal(got["classes"][0, :n], want["classes"][0, :n])
        np.testing.assert_allclose(got["boxes"][0, :n], want["boxes"][0, :n], atol=1e-3, rtol=0)
        np.testing.assert_allclose(got["scores"][0, :n], want["scores"][0, :n], atol=1e-5, rtol=0)
        np.testing.assert_allclose(got["masks"][0, :n], want["masks"][0, :n], atol=1e-4, rtol=0)


def test_surgeoned_graph_is_clean(surgeried_model):
    out = surgeried_model("shipped", (512, 512)).path
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    ops = {n.op_type for n in model.graph.node}
    assert not ops & {"RoiAlign", "NonMaxSuppression", "MultilevelRoIAlign", "BatchedNMS"}
    assert not model.functions
    assert [o.name for o in model.graph.output] == ["num_detections", "boxes", "scores", "classes", "masks"]
    plugins = [node for node in model.graph.node if node.domain == PLUGIN_DOMAIN]
    # the shipped model's two regions of each kind (box and mask RoIAlign, the RPN's and the detections' NMS):
    # else the loop below could check nothing and pass
    assert sorted(node.op_type for node in plugins) == [NMS, NMS, ROI_ALIGN, ROI_ALIGN]
    for node in plugins:
        check_plugin_node(node)  # attributes equal the C++ creator's field list


def test_renamed_nodes_still_convert(exported_model, tmp_path):
    """Surgery never looks at node names: scramble them all and the result is the same graph."""
    model = onnx.load(exported_model("shipped", (512, 512)))
    rng = random.Random(0)
    for node in model.graph.node:
        node.name = "".join(rng.choices(string.ascii_letters, k=12))
    scrambled = tmp_path / "scrambled.onnx"
    onnx.save(model, scrambled)
    (tmp_path / "scrambled.json").write_text(open(exported_model("shipped", (512, 512))[:-5] + ".json").read())
    result = surgeon(str(scrambled), str(tmp_path / "scrambled.trt.onnx"))
    images, _ = letterbox(sample(VAL, 0)[0], (512, 512))
    got = PluginGraphRunner(result.path).run({"images": images})
    want = _run_ort(_ort_session(str(scrambled)), images)
    assert got["num_detections"][0] == want["num_detections"][0]
    np.testing.assert_allclose(got["boxes"], want["boxes"], atol=1e-3)


def test_graph_without_regions_is_a_clear_error(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Cast", ["images"], ["boxes"], to=onnx.TensorProto.FLOAT)], "plain",
        [helper.make_tensor_value_info("images", onnx.TensorProto.UINT8, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("boxes", onnx.TensorProto.FLOAT, [1, 3, 32, 32])])
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    (tmp_path / "plain.json").write_text('{"arch": "x", "classes": [], "input_size": [32, 32], '
                                         '"precision": "fp32", "detections": 1}')
    with pytest.raises(UserError, match=r"looked for 2 multi-level RoIAlign .* found 0"):
        surgeon(str(path))


def test_unknown_opset_is_a_clear_error(tmp_path):
    graph = helper.make_graph([], "g", [], [])
    path = tmp_path / "old.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]), path)
    with pytest.raises(UserError, match="opset 11"):
        surgeon(str(path))


def test_plugin_node_with_wrong_attributes_is_refused():
    node = helper.make_node(ROI_ALIGN, ["r", "p2"], ["y"], domain=PLUGIN_DOMAIN, output_size=[7, 7],
                            plugin_version="1", plugin_namespace="mrcnn_edge")
    with pytest.raises(UserError, match="creator's fields"):
        check_plugin_node(node)
