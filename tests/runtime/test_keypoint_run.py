"""`run` with the shipped keypoint model on a video of walking figures: the annotated video shows skeletons
drawn on the figures, JSONL rows carry [x, y, v] x 11 and their scores, the COCO results file is what
pycocotools' keypoint evaluation reads."""
import json

import cv2
import numpy as np
import pytest

from mrcnn_edge.runtime.run import run_stream

SIZE = 320


@pytest.fixture(scope="module")
def keypoint_onnx(exported_model):
    return exported_model("shipped_keypoints", (SIZE, SIZE))  # shared with tests/serving


@pytest.fixture(scope="module")
def figures_video(tmp_path_factory):
    from mrcnn_edge.data.video import make_video

    return make_video(str(tmp_path_factory.mktemp("video") / "figures.mp4"), num_frames=6, size=SIZE, task="keypoints")


def test_run_writes_keypoints_to_video_jsonl_and_coco(keypoint_onnx, figures_video, tmp_path):
    from pycocotools.coco import COCO

    out, jsonl, coco = (str(tmp_path / n) for n in ("annotated.mp4", "rows.jsonl", "results.json"))
    result = run_stream(keypoint_onnx, figures_video, out=out, jsonl=jsonl, coco=coco, live_line=False,
                        backend="onnxruntime")
    assert result.frames_processed == 6
    rows = [json.loads(line) for line in open(jsonl)]
    detections = [d for r in rows for d in r["detections"]]
    assert detections and all("mask" not in d for d in detections)
    for d in detections:
        assert np.array(d["keypoints"]).shape == (11, 3) and len(d["keypoint_scores"]) == 11
        x1, y1, x2, y2 = d["box"]
        inside = [(x1 - 2 <= x <= x2 + 2 and y1 - 2 <= y <= y2 + 2) for x, y, _ in d["keypoints"]]
        assert all(inside), "a keypoint outside its box: decoded in the wrong frame"
    results = json.load(open(coco))
    assert len(results[0]["keypoints"]) == 33
    gt = COCO()
    gt.dataset = {"images": [{"id": i, "height": SIZE, "width": SIZE} for i in range(6)], "annotations": [],
                  "categories": [{"id": 1, "name": "figure", "keypoints": [str(i) for i in range(11)]}]}
    gt.createIndex()
    assert len(gt.loadRes(results).getAnnIds()) == len(results)  # pycocotools reads the file as keypoint results
    first = cv2.VideoCapture(out).read()[1]
    plain = cv2.VideoCapture(figures_video).read()[1]
    assert np.abs(first.astype(int) - plain.astype(int)).max() > 100  # something was drawn
