"""The real model end to end: the demo, and `run` against the Predictor on the same frames."""
import json
import os

import pytest



@pytest.fixture(scope="module")
def demo(tmp_path_factory, shipped_checkpoint):
    from mrcnn_edge.runtime.demo import run_demo

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

    from mrcnn_edge.runtime.predictor import Predictor
    from mrcnn_edge.runtime.sources import open_source

    from mrcnn_edge.runtime.run import SCORE_THRESHOLD

    result, _ = demo
    predictor = Predictor.from_path(result.model, score_threshold=SCORE_THRESHOLD)  # the backend the demo took
    source = open_source(result.video_in)
    frames = [f.image for f, _ in source.frames()][:8]
    source.close()
    rows = [json.loads(line) for line in open(result.run.outputs["jsonl"])][:8]
    assert sum(len(r["detections"]) for r in rows) > 0  # the trained model finds shapes
    for row, frame in zip(rows, frames):
        dets = predictor(frame)
        assert [d["class_id"] for d in row["detections"]] == dets.classes.tolist()
        np.testing.assert_allclose([d["box"] for d in row["detections"]], dets.boxes.reshape(-1, 4), atol=0.01)
        np.testing.assert_allclose([d["score"] for d in row["detections"]], dets.scores, atol=1e-5)
        for d, mask in zip(row["detections"], dets.masks):
            assert (mask_utils.decode(d["mask"]).astype(bool) == mask).all()
