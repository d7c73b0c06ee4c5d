import json

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from mrcnn_edge.data.coco import write_synthetic_coco
from mrcnn_edge.data.synthetic import CLASSES, TRAIN, VAL, SyntheticSpec, masks_to_boxes, sample


def test_deterministic_from_seed_and_index():
    a, b = sample(VAL, 7), sample(VAL, 7)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(sample(VAL, 8)[0], a[0])
    assert not np.array_equal(sample(TRAIN, 7)[0][:100, :100], a[0][:100, :100])


def test_split_sizes_and_labels():
    image, masks, labels = sample(VAL, 0)
    assert image.shape == (VAL.height, VAL.width, 3) and image.dtype == np.uint8
    assert masks.shape[1:] == (VAL.height, VAL.width) and len(masks) == len(labels)
    assert image.shape[:2] == (512, 512) and sample(TRAIN, 0)[0].shape[:2] == (TRAIN.height, TRAIN.width)


def test_every_class_appears_and_masks_do_not_overlap():
    seen = set()
    for i in range(20):
        _, masks, labels = sample(VAL, i)
        seen |= set(labels.tolist())
        assert masks.sum(0).max() <= 1, "visible masks of occluding shapes must be disjoint"
        assert (masks.reshape(len(masks), -1).sum(1) >= 80).all()
    assert seen == set(range(1, len(CLASSES) + 1))


def test_coco_json_reads_in_pycocotools(tmp_path):
    spec = SyntheticSpec(seed=11, height=256, width=320)
    path = write_synthetic_coco(spec, 5, str(tmp_path))
    coco = COCO(path)
    assert len(coco.getImgIds()) == 5 and [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(CLASSES)
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=[3])):
        decoded = coco.annToMask(ann)
        assert decoded.shape == (256, 320) and decoded.sum() == ann["area"]
    _, masks, _ = sample(spec, 3)
    first = coco.loadAnns(coco.getAnnIds(imgIds=[3]))[0]
    assert np.array_equal(coco.annToMask(first), masks[0])
    assert (tmp_path / "images" / "000003.png").exists()
    x1, y1, x2, y2 = masks_to_boxes(masks[:1])[0]
    assert first["bbox"] == [x1, y1, x2 - x1, y2 - y1]
    assert json.loads(open(path).read())["annotations"][0]["iscrowd"] == 0
    assert mask_utils.area(first["segmentation"]) == first["area"]
