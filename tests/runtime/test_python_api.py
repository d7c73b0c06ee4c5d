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
