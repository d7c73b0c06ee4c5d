"""`mrcnn-edge eval --data --images` on a COCO-format set written here the way real sets come: category
ids that are neither contiguous nor the model's, polygons, compressed and uncompressed RLE, a crowd
region, an image without annotations, images of other sizes than the model's, an unreadable file."""
import json
import os

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from helpers import require_module
from mrcnn_edge.cli import main
from mrcnn_edge.data.synthetic import VAL, masks_to_boxes, sample
from mrcnn_edge.errors import UserError
from mrcnn_edge.eval.categories import match_categories
from mrcnn_edge.eval.coco_eval import coco_ap
from mrcnn_edge.eval.dataset import load_dataset

# The model's classes in another order, other case and ids with gaps, plus one the model lacks.
CATEGORIES = [{"id": 3, "name": "Triangle"}, {"id": 11, "name": "circle"}, {"id": 27, "name": "RECTANGLE"},
              {"id": 90, "name": "star"}, {"id": 50, "name": "hexagon"}]
TO_ID = {1: 11, 2: 27, 3: 3, 4: 90}  # the shipped model's class id -> this set's category id


def _polygons(mask):
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return [c.ravel().astype(float).tolist() for c in contours if len(c) >= 3]


def _segmentation(mask, k):
    """Every third annotation a polygon, an uncompressed RLE or a compressed one."""
    if k % 3 == 0 and _polygons(mask):
        return _polygons(mask)
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    if k % 3 == 1:  # uncompressed: run lengths down the columns, starting with zeros (COCO's crowd format)
        flat = mask.T.ravel()
        runs = np.diff(np.concatenate([[0], np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]])).tolist()
        return {"counts": [0] + runs if flat[0] else runs, "size": list(mask.shape)}
    return {"counts": rle["counts"].decode(), "size": list(mask.shape)}


@pytest.fixture(scope="module")
def coco_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco_set")
    os.makedirs(root / "img")
    images, anns = [], []
    crops = {0: (slice(None), slice(None)), 1: (slice(0, 384), slice(0, 448)), 2: (slice(64, 512), slice(0, 512))}
    for n, (i, (rows, cols)) in enumerate(crops.items()):
        image, masks, labels = sample(VAL, i)
        image, masks = image[rows, cols], masks[:, rows, cols]
        keep = masks.reshape(len(masks), -1).sum(1) > 40
        name = f"{1000 + 7 * n}.png"
        cv2.imwrite(str(root / "img" / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        images.append({"id": 1000 + 7 * n, "file_name": name, "height": image.shape[0], "width": image.shape[1]})
        for k, (mask, label, box) in enumerate(zip(masks[keep], labels[keep], masks_to_boxes(masks[keep]))):
            ann = {"id": len(anns) + 1, "image_id": images[-1]["id"], "category_id": TO_ID[int(label)],
                   "segmentation": _segmentation(mask, len(anns)), "iscrowd": 0}
            if len(anns) % 2:  # some exporters leave area and bbox out
                ann.update(area=float(mask.sum()), bbox=[float(box[0]), float(box[1]),
                                                        float(box[2] - box[0]), float(box[3] - box[1])])
            anns.append(ann)
    # a crowd region (uncompressed RLE, as COCO stores crowds): detections on it are ignored, not false positives
    anns[-1].update(iscrowd=1, segmentation=_segmentation(mask, 1))
    rng = np.random.default_rng(0)
    cv2.imwrite(str(root / "img" / "empty.png"), rng.integers(90, 110, (300, 400, 3), dtype=np.uint8))
    images.append({"id": 5, "file_name": "empty.png", "height": 300, "width": 400})
    (root / "img" / "broken.png").write_bytes(b"\x89PNG not an image")
    images.append({"id": 6, "file_name": "broken.png", "height": 10, "width": 10})
    path = root / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": CATEGORIES}))
    return str(path), str(root / "img")


def test_pth_and_its_onnx_give_the_same_ap(coco_set, shipped_checkpoint, exported_model, tmp_path, capsys):
    annotations, images = coco_set
    onnx = exported_model("shipped", (512, 512))
    out = tmp_path / "ap.json"
    rc = main(["eval", "--data", annotations, "--images", images, "--model", shipped_checkpoint, onnx,
               "--json", str(out), "--backend", "onnxruntime"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    rows = json.loads(out.read_text())
    assert [r["model"] for r in rows] == ["pytorch eager", "onnxruntime fp32"]
    assert set(rows[0]) >= {"model", "artifact", "box_ap", "mask_ap", "box_ap50", "mask_ap75", "num_images"}
    eager, ort = rows
    assert eager["num_images"] == 4  # the broken file is skipped, the empty image counts
    assert eager["box_ap"] > 0.5 and eager["mask_ap"] > 0.5, eager  # a real score, not two zeros
    assert abs(eager["box_ap"] - ort["box_ap"]) <= 0.001 and abs(eager["mask_ap"] - ort["mask_ap"]) <= 0.001
    assert "hexagon" in captured.out and "broken.png" in captured.out
    rc = main(["eval", "--data", annotations, "--images", images, "--model", onnx, "--strict"])
    assert rc == 2 and "broken.png" in capsys.readouterr().err


def test_class_names_that_do_not_match_are_an_error_listing_both_sides(coco_set, shipped_checkpoint, tmp_path,
                                                                       capsys):
    from mrcnn_edge.model.checkpoint import load_model, save_checkpoint

    model, ckpt = load_model(shipped_checkpoint)
    renamed = str(tmp_path / "renamed.pth")
    save_checkpoint(renamed, model, arch=ckpt.arch, classes=["cat", "dog", "triangle", "star"])
    annotations, images = coco_set
    assert main(["eval", "--data", annotations, "--images", images, "--model", renamed]) == 2
    err = capsys.readouterr().err
    assert "model only: cat, dog" in err and "dataset only: circle, RECTANGLE, hexagon" in err
    assert "--ignore-unmatched" in err and err.count("\n") == 1
    mapping = match_categories(["cat", "dog", "triangle", "star"], CATEGORIES, ignore_unmatched=True)
    assert mapping.to_dataset == {3: 3, 4: 90} and mapping.category_ids == [3, 90]
    with pytest.raises(UserError, match="do not match"):
        match_categories(["cat", "dog"], CATEGORIES, ignore_unmatched=True)  # nothing left to evaluate


def test_faster_coco_eval_and_pycocotools_give_the_same_numbers(coco_set):
    """On detections made from the ground truth (jittered, some dropped, some false, crowd covered)."""
    require_module("faster_coco_eval")
    dataset = load_dataset(*coco_set)
    rng = np.random.default_rng(1)
    rows = []
    for ann in dataset.gt["annotations"]:
        if rng.random() < 0.2:
            continue
        img = next(i for i in dataset.gt["images"] if i["id"] == ann["image_id"])
        from mrcnn_edge.eval.dataset import _rle

        mask = mask_utils.decode(_rle(ann["segmentation"], img["height"], img["width"])).astype(bool)
        mask = np.roll(mask, int(rng.integers(-3, 4)), axis=1)
        x, y, w, h = ann["bbox"]
        box = [x + rng.normal(0, 2), y + rng.normal(0, 2), w, h]
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        rle["counts"] = rle["counts"].decode()
        category = ann["category_id"] if rng.random() > 0.1 else 3
        rows.append({"image_id": ann["image_id"], "category_id": category, "score": float(rng.random()),
                     "bbox": box, "segmentation": rle})
    ids = [i["id"] for i in dataset.gt["images"] if i["id"] != 6]
    fast = coco_ap(dataset.gt, rows, ids, [3, 11, 27, 90], evaluator="faster-coco-eval")
    reference = coco_ap(dataset.gt, rows, ids, [3, 11, 27, 90], evaluator="pycocotools")
    assert 0.2 < reference.mask_ap < 0.99 and 0.2 < reference.box_ap < 0.99  # neither trivial nor perfect
    for field in ("box_ap", "box_ap50", "box_ap75", "mask_ap", "mask_ap50", "mask_ap75"):
        assert getattr(fast, field) == pytest.approx(getattr(reference, field), abs=1e-6), field


def test_bad_dataset_files_are_one_line(tmp_path, coco_set):
    _, images = coco_set
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"images": [], "categories": []}))
    with pytest.raises(UserError, match="lacks annotations"):
        load_dataset(str(bad), images)
    with pytest.raises(UserError, match="annotations not found"):
        load_dataset(str(tmp_path / "none.json"), images)
    assert main(["eval", "--data", str(bad)]) == 2
