"""The rest of the pipeline on a detectron2 checkpoint, unchanged: fp16 and int8 (of model.onnx and of
model.trt.onnx), `run` over an image folder and `bench`, on the R-50 export the parity tests made."""
import json
import os

import cv2
import numpy as np
import pytest

from helpers.parity import box_iou
from mrcnn_edge.precision.calibrate import calibrate
from mrcnn_edge.precision.convert import convert
from mrcnn_edge.runtime import Predictor
from mrcnn_edge.sidecar import read_sidecar

from .conftest import reference_detections
from .frames import frames

SIZE = (320, 320)


def _matched_box_iou(expected, detections) -> float:
    """Median over detectron2's detections of the best same-class box IoU among ours."""
    boxes, _, classes, _ = expected
    return float(np.median([max([box_iou(b, o) for o, k in zip(detections.boxes, detections.classes) if k == c],
                                default=0.0) for b, c in zip(boxes, classes)]))


def _write_frames(folder) -> str:
    folder.mkdir()
    for name, frame in frames(SIZE).items():
        cv2.imwrite(str(folder / f"{name}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return str(folder)


@pytest.fixture(scope="module")
def minmax_cache(detectron2_export, tmp_path_factory):
    """Calibrated on the two photos (a calibration folder), as a user would on their own images."""
    root = tmp_path_factory.mktemp("d2calib")
    path = str(root / "cache.json")
    calibrate(detectron2_export(50, SIZE), _write_frames(root / "photos"), method="minmax", num_images=2,
              cache_path=path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("precision,plugins", [("fp16", False), ("int8", False), ("int8", True)])
def test_precisions_run_and_stay_near_detectron2(detectron2_export, reference, minmax_cache, precision, plugins,
                                                 tmp_path):
    """Random weights have no accuracy to keep, and their scores are close together (0.27-0.38), so low
    precision changes which 100 of ~4000 candidates are kept: the bar is that detectron2's boxes are still
    found (median best same-class IoU; measured: fp16 0.996, int8 0.69 for model.onnx and model.trt.onnx)."""
    source = detectron2_export(50, SIZE, plugins)
    out = convert(source, precision, cache=minmax_cache if precision == "int8" else None,
                  out=str(tmp_path / f"model.{precision}{'.trt' if plugins else ''}.onnx"))
    path = out.path
    assert read_sidecar(path)["paste"] == "detectron2"
    predictor = Predictor.from_path(path)
    photo, frame = next(iter(frames(SIZE).items()))
    detections = predictor(frame)
    assert len(detections.scores) == 100
    bar = 0.9 if precision == "fp16" else 0.5
    assert _matched_box_iou(reference_detections(reference, 50, SIZE, photo), detections) > bar


def test_run_and_bench(detectron2_export, tmp_path):
    from mrcnn_edge.runtime.bench import bench
    from mrcnn_edge.runtime.run import run_stream

    model = detectron2_export(50, SIZE)
    folder = _write_frames(tmp_path / "frames")
    result = run_stream(model, folder, jsonl=str(tmp_path / "out.jsonl"), live_line=False, score_threshold=0.0)
    assert result.frames_processed == 2
    lines = [json.loads(line) for line in open(tmp_path / "out.jsonl")]
    assert len(lines) == 2
    bench_result = bench(model, warmup=1, iterations=2, out_dir=str(tmp_path / "bench"))
    assert bench_result.throughput_fps > 0 and tuple(bench_result.input_size) == SIZE


@pytest.mark.slow
def test_build_int8_from_the_pkl_and_check_every_graph(detectron2_pkl, tmp_path, capsys):
    """The issue's command: `build --weights model_final.pkl --precision int8` (calibrating inline on the
    user's photos), then `check` passes on every graph it handed to TensorRT's side of the chain, for
    each release the rules know."""
    from mrcnn_edge.check.rules import RELEASES
    from mrcnn_edge.cli import main

    photos = _write_frames(tmp_path / "photos")
    out = tmp_path / "out"
    rc = main(["build", "--weights", detectron2_pkl(50), "--size", "320x320", "--precision", "int8",
               "--calib-source", photos, "--calib-images", "2", "--out-dir", str(out)])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert printed.out.startswith(f"TensorRT not found: built the CPU int8 model {out}/model_final_r50.int8.onnx")
    graphs = sorted(str(p) for p in out.glob("*.trt.onnx"))
    assert [os.path.basename(g) for g in graphs] == ["model_final_r50.int8.trt.onnx", "model_final_r50.trt.onnx"]
    for graph in graphs:
        for release in RELEASES:
            assert main(["check", graph, "--tensorrt", release]) == 0, capsys.readouterr().out
    assert read_sidecar(str(out / "model_final_r50.int8.onnx"))["paste"] == "detectron2"
    detections = Predictor.from_path(str(out / "model_final_r50.int8.onnx"))(next(iter(frames(SIZE).values())))
    assert len(detections.scores) > 0
