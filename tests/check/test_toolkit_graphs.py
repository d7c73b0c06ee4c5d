"""Every graph the toolkit hands TensorRT passes `mrcnn-edge check`: fp32 (surgery), fp16 and int8, at batch
1 and with a dynamic batch axis, for every architecture and the keypoint model. The exports and surgery outputs are the
session's shared ones (tests/conftest.py), so nothing large is exported twice. And the INT8 graph that
`QuantizeBias` would make (every bias an INT32 initializer behind a DequantizeLinear) fails it."""
import onnx
import pytest

from mrcnn_edge.check.checker import check
from mrcnn_edge.check.rules import RELEASES
from mrcnn_edge.precision.calibrate import calibrate
from mrcnn_edge.precision.fp16 import to_fp16
from mrcnn_edge.precision.int8 import TARGETS, quantize_int8

CASES = [  # (arch, size, batch): sizes the export and surgery tests already made
    ("shipped", (320, 448), 1), ("shipped", (512, 512), None),
    ("maskrcnn_resnet50_fpn", (320, 416), 1), ("maskrcnn_resnet50_fpn_v2", (320, 416), 1),
    ("keypointrcnn_resnet50_fpn", (320, 416), 1),  # two RoIAlign plugins, keypoint heatmaps out
]
EVERY_RELEASE = ("shipped", "keypointrcnn_resnet50_fpn")


def _passes(path, releases):
    for release in releases:
        result = check(path, release)
        assert result.ok, "\n".join(result.lines()[:5])


@pytest.fixture(scope="module")
def caches(exported_model, tmp_path_factory):
    """One-image minmax caches (the ranges do not matter to the rules, only the Q/DQ placement does)."""
    root, made = tmp_path_factory.mktemp("check_calib"), {}

    def get(arch, size, batch):
        if (arch, size, batch) not in made:
            made[arch, size, batch] = calibrate(exported_model(arch, size, batch), "synthetic", method="minmax",
                                                num_images=1, cache_path=str(root / f"{arch}_{size[0]}_{batch}.json")).cache
        return made[arch, size, batch]

    return get


@pytest.mark.parametrize("arch, size, batch", CASES)
def test_every_tensorrt_graph_passes(surgeried_model, caches, arch, size, batch, tmp_path):
    # 10.3's rules are the strictest (lowest opset and IR, fewest operators; the rest is shared), so the large
    # ResNet-50 Mask R-CNN graphs are held to 10.3 only, the light model's and the keypoint model's to every release
    releases = RELEASES if arch in EVERY_RELEASE else ["10.3"]
    fp32 = surgeried_model(arch, size, batch).path
    _passes(fp32, releases)
    fp16 = to_fp16(fp32, str(tmp_path / "model.fp16.trt.onnx")).path
    _passes(fp16, releases)
    int8 = quantize_int8(fp32, str(tmp_path / "model.int8.trt.onnx"), caches(arch, size, batch), target="tensorrt")
    _passes(int8.path, releases)
    graph = onnx.load(int8.path, load_external_data=False).graph
    assert int8.quantized_nodes > 0 and {n.domain for n in graph.node} >= {"trt.plugins"}


def test_model_onnx_is_reported_as_needing_surgery(exported_model):
    result = check(exported_model("shipped", (320, 448)))
    assert not result.ok and {v.rule for v in result.violations} == {"local-function"}
    assert len(result.violations) == 4  # two RoIAlign and two NMS regions


def test_the_quantize_bias_graph_fails(surgeried_model, caches, tmp_path, monkeypatch):
    """QuantizeBias back on for the TensorRT target: the graph TensorRT 10.3 and 11.x cannot parse."""
    monkeypatch.setitem(TARGETS["tensorrt"]["extra_options"], "QuantizeBias", True)
    fp32 = surgeried_model("shipped", (320, 448)).path
    int8 = quantize_int8(fp32, str(tmp_path / "bias.int8.trt.onnx"), caches("shipped", (320, 448), 1),
                         target="tensorrt").path
    for release in RELEASES:
        result = check(int8, release)
        assert {v.rule for v in result.violations} == {"qdq-input-type"}
        assert all("bias" in v.node and "is INT32" in v.message for v in result.violations)
        assert len(result.violations) > 50  # every Conv/Gemm bias of the light model
