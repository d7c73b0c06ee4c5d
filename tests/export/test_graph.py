"""The exported graph: the output contract, and each plugin region as one call of a local function."""
import glob
import json
import os
import shutil
from collections import Counter

import numpy as np
import onnx
import pytest
import torch

from mrcnn_edge.data.synthetic import VAL, sample
from mrcnn_edge.export.onnx_functions import DOMAIN
from mrcnn_edge.model.checkpoint import load_model
from mrcnn_edge.runtime import Predictor

INT32, FLOAT = onnx.TensorProto.INT32, onnx.TensorProto.FLOAT
CONTRACT = {"num_detections": (INT32, [1]), "boxes": (FLOAT, [1, 50, 4]), "scores": (FLOAT, [1, 50]),
            "classes": (INT32, [1, 50]), "masks": (FLOAT, [1, 50, 28, 28])}


def _shape(value):
    return [d.dim_value for d in value.type.tensor_type.shape.dim]


def test_contract(light_random_onnx):
    model = onnx.load(light_random_onnx.path)
    (images,) = model.graph.input
    assert images.name == "images" and images.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert _shape(images) == [1, 3, 320, 320]
    outputs = {o.name: (o.type.tensor_type.elem_type, _shape(o)) for o in model.graph.output}
    assert outputs == CONTRACT
    sidecar = json.load(open(light_random_onnx.sidecar))
    assert sidecar["input_size"] == [320, 320] and sidecar["detections"] == 50 and len(sidecar["classes"]) == 4


def _torchvision_scales(checkpoint: str, size: int) -> list[float]:
    """The feature scales torchvision's MultiScaleRoIAlign infers on its first forward at this size."""
    model = load_model(checkpoint, min_size=size, max_size=size)[0]
    with torch.no_grad():
        model([torch.zeros(3, size, size)])
    return model.roi_heads.box_roi_pool.scales


def test_regions_are_function_calls(light_random_onnx, light_random_checkpoint):
    """Surgery swaps these nodes for plugins: two RoIAlign regions (box, mask), two NMS (RPN, box head)."""
    model = onnx.load(light_random_onnx.path)
    ops = Counter((n.domain, n.op_type) for n in model.graph.node)
    assert ops[(DOMAIN, "MultilevelRoIAlign")] == 2 and ops[(DOMAIN, "BatchedNMS")] == 2
    assert not {"Loop", "If", "NonMaxSuppression", "RoiAlign"} & {op for _, op in ops}
    assert {(f.domain, f.name) for f in model.functions} == {(DOMAIN, "MultilevelRoIAlign"), (DOMAIN, "BatchedNMS")}
    scales = _torchvision_scales(light_random_checkpoint, 320)
    for node in model.graph.node:
        if node.op_type == "MultilevelRoIAlign":
            assert len(node.input) == 1 + 3  # rois + the light model's three FPN maps
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            assert attrs["spatial_scales"] == scales and attrs["sampling_ratio"] == 2


def test_padding_rows_and_cache(light_random_onnx):
    """Rows past num_detections are padding; the optimised graph is cached next to the model and reused."""
    predictor = Predictor.from_onnx(light_random_onnx.path)
    frame = sample(VAL, 0)[0][:320, :320]
    raw = predictor.infer(predictor.preprocess(frame)[0])
    n = int(raw["num_detections"][0])
    assert 0 <= n <= 50 and np.all(raw["scores"][0, n:] == 0) and np.all(np.diff(raw["scores"][0, :n]) <= 0)
    cached = glob.glob(os.path.splitext(light_random_onnx.path)[0] + ".*.ort_opt.onnx")
    assert len(cached) == 1
    again = Predictor.from_onnx(light_random_onnx.path)
    np.testing.assert_array_equal(again.infer(predictor.preprocess(frame)[0])["boxes"], raw["boxes"])


def test_the_cache_appears_only_when_whole(light_random_onnx, tmp_path, monkeypatch):
    """ORT writes the cache while a session starts: under its own name only once whole, so that a second
    process starting on the same model at the same time (a `run` per camera) never loads half a file."""
    import onnxruntime as ort

    from mrcnn_edge.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend, optimized_path

    model = shutil.copy(light_random_onnx.path, tmp_path / "model.onnx")  # a new mtime: no cache yet
    shutil.copy(os.path.splitext(light_random_onnx.path)[0] + ".json", tmp_path / "model.json")
    real, cached_when_started = ort.InferenceSession, []

    def session(*args, **kwargs):
        started = real(*args, **kwargs)
        cached_when_started.append(os.path.exists(optimized_path(str(model))))
        return started

    monkeypatch.setattr(ort, "InferenceSession", session)
    OnnxRuntimeBackend(str(model))
    assert cached_when_started == [False]
    assert os.path.isfile(optimized_path(str(model))) and not glob.glob(str(tmp_path / "*.partial"))


def test_a_session_that_fails_to_start_leaves_no_half_cache(light_random_onnx, tmp_path, monkeypatch):
    """ORT has written part of the cache when the session fails (here: made to fail after writing): one line,
    and nothing of the cache left beside the model."""
    import onnxruntime as ort

    from mrcnn_edge.errors import UserError
    from mrcnn_edge.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend

    model = shutil.copy(light_random_onnx.path, tmp_path / "model.onnx")
    shutil.copy(os.path.splitext(light_random_onnx.path)[0] + ".json", tmp_path / "model.json")

    def session(model, options, **kwargs):
        open(options.optimized_model_filepath, "wb").write(b"half")
        raise RuntimeError("out of memory")

    monkeypatch.setattr(ort, "InferenceSession", session)
    with pytest.raises(UserError, match="out of memory"):
        OnnxRuntimeBackend(str(model))
    assert sorted(os.listdir(tmp_path)) == ["model.json", "model.onnx"]
