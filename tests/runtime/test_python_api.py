"""The README's Python API snippet, run exactly as written, and the lazy top-level imports."""
import json
import os
import re
import shutil
import subprocess
import sys

import cv2
from pycocotools.coco import COCO

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def _readme_snippet() -> str:
    text = open(README, encoding="utf-8").read()
    section = text[text.index("## The Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_snippet_runs_as_written(exported_model, tmp_path, monkeypatch):
    from mrcnn_edge.data.synthetic import VAL, sample

    snippet = _readme_snippet()
    assert len(snippet.strip().splitlines()) <= 15
    onnx = exported_model("shipped", (512, 512))
    os.makedirs(tmp_path / "out")
    shutil.copy(onnx, tmp_path / "out" / "model.onnx")
    shutil.copy(os.path.splitext(onnx)[0] + ".json", tmp_path / "out" / "model.json")
    frame = sample(VAL, 0)[0]
    cv2.imwrite(str(tmp_path / "photo.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "README.md", "exec"), {})
    assert cv2.imread("annotated.jpg").shape == frame.shape
    rows = json.load(open("detections.json"))
    assert rows and {"image_id", "category_id", "category_name", "score", "bbox", "segmentation"} <= set(rows[0])
    gt = COCO()
    gt.dataset = {"images": [{"id": 1, "height": 512, "width": 512}], "annotations": [],
                  "categories": [{"id": i, "name": n} for i, n in enumerate(["circle", "rectangle", "triangle", "star"], 1)]}
    gt.createIndex()
    assert len(gt.loadRes(rows).anns) == len(rows)  # COCO's own reader takes them


def test_import_is_cheap_and_the_api_is_top_level():
    code = ("import sys, mrcnn_edge; heavy = [m for m in ('torch', 'cv2', 'onnxruntime') if m in sys.modules]; "
            "assert not heavy, heavy; from mrcnn_edge import Predictor, Detections, read_image; "
            "assert Detections.draw and Detections.to_coco and Predictor.from_path")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_coco_names_travel_and_unused_slots_are_never_drawn():
    import numpy as np

    from mrcnn_edge.model.class_names import coco_class_names
    from mrcnn_edge.runtime.detections import Detections
    from mrcnn_edge.runtime.sinks import detection_rows

    names = coco_class_names()
    assert names[0] == "person" and names[11] == "N/A"  # COCO id 12 is an unused slot
    frame = np.full((200, 240, 3), 90, np.uint8)
    masks = np.zeros((2, 200, 240), bool)
    masks[0, 140:190, 150:230] = masks[1, 10:50, 10:60] = True
    dets = Detections(np.array([[150, 140, 230, 190], [10, 10, 60, 50]], np.float32), np.array([0.9, 0.8], np.float32),
                      np.array([1, 12], np.int32), masks, names)
    assert [r["class_name"] for r in detection_rows(dets)] == ["person", "N/A"]  # JSONL
    assert [r["category_name"] for r in dets.to_coco(3)] == ["person", "N/A"]  # COCO results, ids kept
    drawn = dets.draw(frame)
    assert (drawn[150:180, 160:220] != frame[150:180, 160:220]).all(axis=2).any()  # the person is drawn
    assert np.array_equal(drawn[:60, :70], frame[:60, :70])  # the N/A slot is not
