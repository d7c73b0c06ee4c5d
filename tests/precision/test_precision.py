"""FP16 and INT8 graphs: they run end to end on the CPU, keep the contract, and stay close to FP32."""
import json
import os

import numpy as np
import pytest

from helpers.parity import matched_mask_iou
from mrcnn_edge.data.synthetic import VAL, sample
from mrcnn_edge.errors import UserError
from mrcnn_edge.precision.calibrate import calibrate, read_cache
from mrcnn_edge.names import precision_path
from mrcnn_edge.precision.convert import convert
from mrcnn_edge.runtime.predictor import Predictor
from mrcnn_edge.surgery.surgeon import surgeon

SIZE = (320, 448)


@pytest.fixture(scope="module")
def model_onnx(exported_model, tmp_path_factory):
    return exported_model("shipped", SIZE)


@pytest.fixture(scope="module")
def minmax_cache(model_onnx, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("calib") / "cache.json")
    result = calibrate(model_onnx, "synthetic", method="minmax", num_images=6, cache_path=path)
    assert result.num_images == 6 and result.tensors > 50
    return path


def _detections(path, n=3):
    predictor = Predictor.from_path(path, score_threshold=0.5)  # confident detections: low scores churn
    return [predictor(sample(VAL, i)[0]) for i in range(n)]


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_precision_runs_end_to_end_and_stays_close(model_onnx, minmax_cache, precision, tmp_path):
    out = str(tmp_path / f"model.{precision}.onnx")
    convert(model_onnx, precision, cache=minmax_cache, out=out)
    meta = json.load(open(out[:-5] + ".json"))
    assert meta["precision"] == precision
    reference, converted = _detections(model_onnx), _detections(out)
    for ref, got in zip(reference, converted):
        assert got.masks.shape[1:] == (VAL.height, VAL.width)  # pasted into the frame
        assert len(ref) > 0  # every val frame holds objects: no frame passes with nothing compared
        assert matched_mask_iou(ref, got) > (0.95 if precision == "fp16" else 0.7)


def test_int8_of_the_tensorrt_graph_keeps_plugin_nodes(model_onnx, minmax_cache, tmp_path):
    import onnx

    trt = surgeon(model_onnx, str(tmp_path / "model.trt.onnx")).path
    out = convert(trt, "int8", cache=minmax_cache).path
    assert out == precision_path(trt, "int8") and out.endswith(".int8.trt.onnx")
    graph = onnx.load(out).graph
    assert sum(n.domain == "trt.plugins" for n in graph.node) == 4
    assert any(n.op_type == "QuantizeLinear" for n in graph.node)
    dets = _detections(out, 1)[0]  # runs on the CPU: Q/DQ in ONNX Runtime, plugins in their reference
    assert dets.masks.shape[1:] == (VAL.height, VAL.width)


def test_calibration_cache_round_trips(minmax_cache, tmp_path):
    """Cache -> ranges -> cache gives the same ranges; a quantisation from the copy is the same graph."""
    from onnxruntime.quantization.calibrate import save_tensors_data

    ranges = read_cache(minmax_cache)
    copy = str(tmp_path / "copy.json")
    save_tensors_data(ranges, copy)
    again = read_cache(copy)
    assert ranges.data.keys() == again.data.keys() and len(ranges.data) > 50
    for name, data in ranges.data.items():
        low, high = data.range_value
        assert np.all(np.asarray(low) <= np.asarray(high)), name
        np.testing.assert_array_equal(again.data[name].range_value, data.range_value)


def test_empty_calibration_folder(model_onnx, tmp_path):
    with pytest.raises(UserError, match="no images"):
        calibrate(model_onnx, str(tmp_path), method="minmax", num_images=4)


def test_unreadable_calibration_images_are_skipped_and_named(model_onnx, tmp_path):
    import cv2

    from mrcnn_edge.precision.calibration_data import calibration_frames

    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="gave no images .1 unreadable; first: cannot decode image .*broken.png"):
        calibrate(model_onnx, str(tmp_path), method="minmax", num_images=4)
    with pytest.raises(UserError, match="cannot decode image .*broken.png"):
        calibrate(model_onnx, str(tmp_path), method="minmax", num_images=4, strict=True)
    for name in ("a.png", "c.png"):
        cv2.imwrite(str(tmp_path / name), np.full((40, 60, 3), 128, np.uint8))
    skipped = []
    frames = list(calibration_frames(str(tmp_path), 4, skipped))
    assert len(frames) == 2 and [os.path.basename(p) for p, _ in skipped] == ["broken.png"]


def test_int8_without_cache_is_a_clear_error(model_onnx):
    with pytest.raises(UserError, match="int8 needs a calibration cache"):
        convert(model_onnx, "int8")


def test_mask_head_exclusion_is_the_mask_branch(model_onnx, tmp_path):
    """keep-float mask_head names the mask head's convs and the mask predictor, in model.onnx and in
    model.trt.onnx (found from the pooling node, not by name), and nothing of the box or RPN heads."""
    import onnx

    from mrcnn_edge.precision.placement import mask_head

    trt = surgeon(model_onnx, str(tmp_path / "model.trt.onnx")).path
    for path in (model_onnx, trt):
        graph = onnx.load(path).graph
        by_name = {n.name: n for n in graph.node}
        weights = sorted(by_name[name].input[1] for name in mask_head(graph))
        assert weights == ["roi_heads.mask_head.0.0.weight", "roi_heads.mask_head.1.0.weight",
                           "roi_heads.mask_head.2.0.weight", "roi_heads.mask_head.3.0.weight",
                           "roi_heads.mask_predictor.conv5_mask.weight",
                           "roi_heads.mask_predictor.mask_fcn_logits.weight"], path
