"""The real model end to end: the demo, and `run` against the Predictor on the same frames."""
import json
import os
import shutil

import pytest


@pytest.fixture(scope="module")
def demo(tmp_path_factory, shipped_checkpoint):
    from mrcnn_edge.demo import run_demo

    out_dir = str(tmp_path_factory.mktemp("demo_out"))
    return run_demo(out_dir, num_frames=40, size=512, live_line=False), out_dir


@pytest.mark.slow
def test_demo_writes_video_report_and_plot(demo):
    result, out_dir = demo
    assert result.run.frames_processed == 40
    report = json.load(open(result.run.outputs["report"]))
    assert report["frames_processed"] == 40 and report["frames_dropped"] == 0 and report["error"] is None
    assert report["backend"] == result.run.backend and report["input_size"] == [512, 512]
    assert os.path.getsize(result.run.outputs["video"]) > 50_000 and os.path.isfile(result.run.outputs["plot"])
    assert "the paper's 5 fps" in result.summary()


@pytest.mark.slow
def test_run_jsonl_matches_the_predictor_on_the_same_frames(demo, tmp_path):
    import numpy as np
    from pycocotools import mask as mask_utils

    from mrcnn_edge.runtime import SCORE_THRESHOLD
    from mrcnn_edge.runtime.predictor import Predictor
    from mrcnn_edge.runtime.sources import open_source

    result, _ = demo
    predictor = Predictor.from_path(result.model, score_threshold=SCORE_THRESHOLD)  # the backend the demo took
    source = open_source(result.video_in)
    frames = [f.image for f, _ in source.frames()][:8]
    source.close()
    rows = [json.loads(line) for line in open(result.run.outputs["jsonl"])][:8]
    assert sum(len(r["detections"]) for r in rows) > 0  # the trained model finds shapes
    assert len(rows) == len(frames) == 8  # else zip below would compare fewer frames than it says, silently
    for row, frame in zip(rows, frames):
        dets = predictor(frame)
        assert [d["class_id"] for d in row["detections"]] == dets.classes.tolist()
        np.testing.assert_allclose([d["box"] for d in row["detections"]], dets.boxes.reshape(-1, 4), atol=0.01)
        np.testing.assert_allclose([d["score"] for d in row["detections"]], dets.scores, atol=1e-5)
        for d, mask in zip(row["detections"], dets.masks):
            assert (mask_utils.decode(d["mask"]).astype(bool) == mask).all()


def test_with_tensorrt_the_demo_builds_through_the_chain(exported_model, monkeypatch, tmp_path):
    """Where TensorRT is installed the demo's engine comes from `build`'s chain: surgery, fp16 and `check`
    against TensorRT's rules before the engine. A fake tensorrt and engine builder stand in for TensorRT,
    which cannot run here; the graph handed to the builder is recorded and checked again."""
    import sys
    import types

    from mrcnn_edge.check import checker
    from mrcnn_edge import chain
    from mrcnn_edge.engine import metadata
    from mrcnn_edge.engine.result import BuildResult
    from mrcnn_edge.demo import best_artifact

    trt = types.SimpleNamespace(__version__="10.3.0")
    monkeypatch.setattr(metadata, "import_tensorrt", lambda: trt)
    monkeypatch.setattr(chain, "import_tensorrt", lambda: trt)
    handed, checked = [], []
    real_check = checker.check
    monkeypatch.setattr(checker, "check", lambda graph, release: checked.append((graph, release)) or
                        real_check(graph, release))

    def build_engine(graph, precision, out_dir, **options):
        handed.append((graph, precision))
        engine = os.path.join(out_dir, "model.fp16.engine")
        return BuildResult(engine, engine + ".json", "tensorrt", precision, precision, 0.0)

    builder = types.ModuleType("mrcnn_edge.engine.tensorrt_build")
    builder.preflight, builder.build_engine = (lambda *a: None), build_engine
    monkeypatch.setitem(sys.modules, "mrcnn_edge.engine.tensorrt_build", builder)
    shared = exported_model("shipped", (320, 448))  # copied: the chain writes beside it
    onnx_path = shutil.copyfile(shared, str(tmp_path / "model.onnx"))
    shutil.copyfile(shared[:-5] + ".json", str(tmp_path / "model.json"))
    assert best_artifact(onnx_path) == str(tmp_path / "model.fp16.engine")
    assert handed == [(str(tmp_path / "model.fp16.trt.onnx"), "fp16")]
    assert checked == [(handed[0][0], "10.3")]  # the installed release's rules, before the build
