"""A user's COCO set as training items (train/coco.py, train/augment.py), on the hardware set (data/hardware.py)
with bad rows planted by hand.

Oracles nobody here wrote: pycocotools decodes the segmentations, mrcnn_edge.letterbox places the frames,
torchvision's masks_to_boxes boxes the masks. Ours (the mask letterbox by index arithmetic, the left/right
invariant of keypoints, the mirror) are shown to catch planted bugs in test_planted_bugs_are_caught.
"""
import dataclasses
import json
import os
import types
from contextlib import nullcontext

import cv2
import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from torchvision import tv_tensors
from torchvision.ops import masks_to_boxes
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

from mrcnn_edge.data import hardware
from mrcnn_edge.data.figures import LAYOUT
from mrcnn_edge.errors import UserError
from mrcnn_edge.images import read_image
from mrcnn_edge.keypoint_layout import KeypointLayout
from mrcnn_edge.letterbox import letterbox
from mrcnn_edge.train import augment as aug
from mrcnn_edge.train.coco import CocoTrainSet

torch.set_num_threads(1)
SIZE = (320, 320)
SQUARE = [[20, 50, 60, 50, 60, 90, 20, 90]]  # a 40x40 square at x 20..60, y 50..90


def _write(path, image):
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def _planted_rows(first: dict) -> list[dict]:
    """Bad annotations on image `first` (and one on allbad.png), a clipped one and a crowd region."""
    h, w = first["height"], first["width"]
    row = lambda i, seg, **kw: {"id": i, "image_id": first["id"], "category_id": 7, "segmentation": seg,
                                "iscrowd": 0, **kw}
    crowd = np.zeros((h, w), np.uint8)
    crowd[5:40, 5:60] = 1
    return [
        row(9001, SQUARE, image_id=999),
        row(9002, SQUARE, category_id=99),
        row(9003, [[10, 10, 30, 30]]),
        row(9004, [[10, 10, 20, 20, 30, 30]]),  # collinear: an empty mask
        row(9005, {"counts": [10, 20], "size": [h, w]}),
        row(9006, [SQUARE[0], [1, 2]]),  # one good part, one of 1 point
        row(9007, [[w - 30, 10, w + 40, 10, w + 40, 50, w - 30, 50]]),  # reaches outside: clipped
        row(9008, {"counts": hardware._runs(crowd), "size": [h, w]}, iscrowd=1),
        {"id": 9009, "image_id": 905, "category_id": 3, "segmentation": [[1, 1, 5, 5]], "iscrowd": 0},
    ]


@pytest.fixture(scope="module")
def mask_set(tmp_path_factory):
    """12 hardware images plus hand-made rows: (annotations path, images dir, the bad rows' expected skips)."""
    root = tmp_path_factory.mktemp("hardware")
    path = hardware.write_hardware_coco(str(root), 12, seed=5)
    images = root / "images"
    coco = json.load(open(path))
    first = next(i for i in coco["images"] if any(a["image_id"] == i["id"] for a in coco["annotations"]))
    jpg = next(i for i in coco["images"] if i["file_name"].endswith(".jpg"))
    data = (images / jpg["file_name"]).read_bytes()
    (images / "corrupt.jpg").write_bytes(data[: len(data) // 2])  # truncated mid-scan
    _write(images / "wrongsize.png", np.zeros((100, 120, 3), np.uint8))
    _write(images / "blank.png", np.full((200, 300, 3), 90, np.uint8))
    _write(images / "allbad.png", np.full((150, 150, 3), 30, np.uint8))
    coco["images"] += [
        {"id": 901, "file_name": "corrupt.jpg", "height": jpg["height"], "width": jpg["width"]},
        {"id": 902, "file_name": "missing.jpg", "height": 100, "width": 100},
        {"id": 903, "file_name": "wrongsize.png", "height": 120, "width": 100},
        {"id": 904, "file_name": "blank.png", "height": 200, "width": 300},
        {"id": 905, "file_name": "allbad.png", "height": 150, "width": 150},
    ]
    coco["annotations"] += _planted_rows(first)
    json.dump(coco, open(path, "w"))
    expected = {
        "image 901 (corrupt.jpg)": "corrupt", "image 902 (missing.jpg)": "file missing",
        "image 903 (wrongsize.png)": "the JSON says 100x120", "annotation 9001": "image_id 999 is not in images",
        "annotation 9002": "category_id 99 is not in categories", "annotation 9003": "polygon with 2 points",
        "annotation 9004": "empty mask", "annotation 9005": "add up to 30 pixels",
        "annotation 9006": "polygon 2 of 2: polygon with 1 point: dropped, the other parts kept",
        "annotation 9009": "polygon with 2 points", "image 905 (allbad.png)": "none of its annotations is usable",
    }
    return path, str(images), expected


@pytest.fixture(scope="module")
def plain(mask_set):
    return CocoTrainSet(mask_set[0], mask_set[1], SIZE, augment=False)


@pytest.fixture(scope="module")
def augmented(mask_set):
    return CocoTrainSet(mask_set[0], mask_set[1], SIZE, augment=True)


def test_hardware_set_is_deterministic_and_exported_like_a_tool(tmp_path, mask_set):
    a, b = (hardware.write_hardware_coco(str(tmp_path / n), 4, seed=3) for n in "ab")
    assert open(a).read() == open(b).read()
    for name in os.listdir(tmp_path / "a" / "images"):
        assert (tmp_path / "a" / "images" / name).read_bytes() == (tmp_path / "b" / "images" / name).read_bytes()
    coco = json.load(open(mask_set[0]))
    assert [c["id"] for c in coco["categories"]] == [3, 7, 12]
    kinds = {"polygon" if isinstance(a["segmentation"], list) else
             "counts" if isinstance(a["segmentation"]["counts"], list) else "rle" for a in coco["annotations"]}
    assert kinds == {"polygon", "counts", "rle"}
    assert {(i["height"], i["width"]) for i in coco["images"][:12]} == {(480, 640), (384, 384)}
    assert {i["file_name"][-3:] for i in coco["images"][:12]} == {"jpg", "png"}
    split = np.zeros((40, 60), np.uint8)
    split[5:20, 5:20] = split[25:35, 30:50] = 1  # one part cut in two by another
    assert len(hardware.segmentation(split, "polygon")) == 2


def test_report_names_each_bad_row(plain, mask_set):
    report = plain.report
    skipped = dict(report.skipped)
    for what, why in mask_set[2].items():
        assert what in skipped and why in skipped[what], (what, skipped.get(what))
    assert len(report.skipped) == len(mask_set[2])
    assert (report.clipped, report.crowd) == (1, 1)
    assert report.negatives >= 1 and "blank.png" in {os.path.basename(plain.image_path(i)) for i in range(len(plain))}
    assert report.images == len(plain) == 12 + 1
    assert report.instances == sum(len(plain[(0, i)][1]["labels"]) for i in range(len(plain))) > 20
    assert plain.classes == ["washer", "hex_nut", "wrench"] and plain.category_ids == [3, 7, 12]
    lines = report.summary_lines()
    assert lines[0].startswith("data: 13 trainable images") and any("corrupt.jpg" in l for l in lines)
    assert json.loads(json.dumps(report.to_json()))["skipped"][0].keys() == {"what", "why"}


def _letterboxed(mask, size):
    """Oracle: deploy's rounding of the letterbox, each input pixel taking the frame pixel under its centre."""
    (h, w), (H, W) = mask.shape, size
    s = min(H / h, W / w)
    nh, nw = min(H, round(h * s)), min(W, round(w * s))
    rows = np.minimum(((np.arange(nh) + 0.5) * h / nh).astype(int), h - 1)
    cols = np.minimum(((np.arange(nw) + 0.5) * w / nw).astype(int), w - 1)
    out = np.zeros(size, np.uint8)
    out[:nh, :nw] = mask[rows][:, cols]
    return out


def check_letterbox_against_pycocotools(ds, gt):
    by_file = {img["file_name"]: img for img in gt.dataset["images"]}
    skipped = {what for what, why in ds.report.skipped if "the other parts kept" not in why}  # rows left out
    for i in range(len(ds)):
        image, target = ds[(0, i)]
        frame = read_image(ds.image_path(i))
        assert torch.equal((image * 255).round().byte(), torch.from_numpy(letterbox(frame, SIZE)[0][0]))
        entry = by_file[os.path.basename(ds.image_path(i))]
        anns = [a for a in gt.imgToAnns[entry["id"]] if not a["iscrowd"] and f"annotation {a['id']}" not in skipped]
        expected = [m for m in (_letterboxed(gt.annToMask(a), SIZE) for a in anns) if m.any()]
        labels = [ds.category_ids.index(a["category_id"]) + 1 for a, m in
                  zip(anns, (_letterboxed(gt.annToMask(a), SIZE) for a in anns)) if m.any()]
        assert target["masks"].shape == (len(expected), *SIZE) and target["masks"].dtype == torch.uint8
        for k, m in enumerate(expected):
            assert np.array_equal(target["masks"][k].numpy(), m), (entry["file_name"], k)
        assert target["labels"].tolist() == labels
        assert torch.equal(target["boxes"], masks_to_boxes(target["masks"]) + torch.tensor([0, 0, 1, 1]))


def _oracle(mask_set):
    gt = COCO(mask_set[0])
    # the partly bad polygon: pycocotools would read its 1-point part too; its oracle is the good part alone
    gt.anns[9006]["segmentation"] = [SQUARE[0]]
    return gt


def test_letterbox_masks_and_frames_match_oracles(plain, mask_set):
    check_letterbox_against_pycocotools(plain, _oracle(mask_set))


def check_augmented_boxes_follow_masks(ds):
    scales = set()
    for seed in range(4):
        for i in range(len(ds)):
            image, target = ds[(seed, i)]
            assert image.shape == (3, *SIZE) and image.dtype == torch.float32 and 0 <= image.min() <= image.max() <= 1
            masks = target["masks"]
            assert masks.flatten(1).any(1).all() and target["boxes"].shape == (len(masks), 4)
            assert torch.equal(target["boxes"], masks_to_boxes(masks) + torch.tensor([0, 0, 1, 1]))
            scales.add(int(image.sum(0).amax(0).nonzero().max()))  # the frame's right edge: jittered
    assert len(scales) > 3


def test_augmented_boxes_follow_masks(augmented):
    check_augmented_boxes_follow_masks(augmented)


def check_mirror_against_flipped_oracle(ds, annotations):
    """place() with a mirror, scale 1: the frame is letterbox(fliplr(frame)), each mask the oracle's of the
    mirrored pycocotools mask."""
    gt = COCO(annotations)
    by_file = {img["file_name"]: img for img in gt.dataset["images"]}
    for i in range(len(ds)):
        frame = read_image(ds.image_path(i))
        anns = [a for a in gt.imgToAnns[by_file[os.path.basename(ds.image_path(i))]["id"]] if a["id"] < 9000]
        if not anns:
            continue
        masks = np.stack([gt.annToMask(a) for a in anns])
        instances = aug.Instances(torch.zeros(len(anns), dtype=torch.int64), tv_tensors.BoundingBoxes(
            masks_to_boxes(torch.from_numpy(masks)), format="XYXY", canvas_size=frame.shape[:2]),
            masks=tv_tensors.Mask(torch.from_numpy(masks)))
        image, placed, _ = aug.place(frame, instances, SIZE, aug.Draw(True, 1.0))
        assert torch.equal(image, torch.from_numpy(letterbox(np.ascontiguousarray(frame[:, ::-1]), SIZE)[0][0]))
        for k, m in enumerate(masks):
            assert np.array_equal(placed.masks[k].numpy(), _letterboxed(m[:, ::-1], SIZE)), (i, k)
        return
    raise AssertionError("no annotated image")


def test_mirror_matches_flipped_oracle(plain, mask_set):
    check_mirror_against_flipped_oracle(plain, mask_set[0])


@pytest.fixture(scope="module")
def keypoint_set(tmp_path_factory):
    """Two squares, of categories 5 (left) and 9 (right), marked like a person facing the camera: its left tip
    lies right of its right tip in the picture, whichever way the picture is mirrored."""
    root = tmp_path_factory.mktemp("keypoints")
    image = np.full((200, 300, 3), 60, np.uint8)
    image[50:90, 20:60] = (200, 40, 40)
    image[50:90, 240:280] = (40, 200, 40)
    _write(root / "a.png", image)
    names = ["left_tip", "right_tip", "middle"]
    coco = {"images": [{"id": 1, "file_name": "a.png", "height": 200, "width": 300}],
            "categories": [{"id": c, "name": n, "keypoints": names, "skeleton": [[1, 3], [2, 3]],
                            "sigmas": [0.05, 0.05, 0.08]} for c, n in ((5, "gadget"), (9, "gizmo"))],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 5, "segmentation": SQUARE, "iscrowd": 0,
                 "keypoints": [55, 70, 2, 25, 70, 2, 0, 0, 0]},
                {"id": 2, "image_id": 1, "category_id": 9, "segmentation": [[240, 50, 280, 50, 280, 90, 240, 90]],
                 "iscrowd": 0, "keypoints": [275, 70, 2, 245, 70, 1, 260, 70, 2]},
                {"id": 3, "image_id": 1, "category_id": 5, "bbox": [100, 120, 30, 30], "iscrowd": 0,
                 "keypoints": [125, 135, 2, 105, 135, 2, 115, 135, 2]},  # keypoints and a box, no segmentation
                {"id": 4, "image_id": 1, "category_id": 5, "bbox": [100, 120, 0, 30], "iscrowd": 0},
            ]}
    path = root / "person_keypoints.json"
    json.dump(coco, open(path, "w"))
    return str(path), str(root)


def check_keypoints_left_stays_left(ds):
    flips = set()
    for seed in range(10):
        _, target = ds[(seed, 0)]
        points, boxes, labels = target["keypoints"], target["boxes"], target["labels"]
        assert points.shape == (3, 3, 3) and points.dtype == torch.float32
        assert labels.tolist() == [1, 2, 1]
        for p, b in zip(points, boxes):
            seen = p[p[:, 2] > 0]
            assert ((seen[:, 0] >= b[0] - 0.5) & (seen[:, 0] <= b[2] + 0.5)).all()
            if p[0, 2] and p[1, 2]:
                assert p[0, 0] > p[1, 0], (seed, p)  # the left tip right of the right tip, mirrored or not
        assert torch.equal(points[0, 2], torch.zeros(3))  # unlabelled: zero, wherever it went
        flips.add(bool(boxes[0, 0] > boxes[1, 0]))  # the gadget (left in the file) right of the gizmo: mirrored
    assert flips == {True, False}


def test_keypoints_swap_left_and_right_on_a_mirror(keypoint_set):
    ds = CocoTrainSet(*keypoint_set, SIZE, keypoints=True)
    assert ds.keypoint_layout == KeypointLayout(("left_tip", "right_tip", "middle"),
                                                (("left_tip", "middle"), ("right_tip", "middle")), (0.05, 0.05, 0.08))
    assert dict(ds.report.skipped) == {"annotation 4": "zero-area box [100, 120, 0, 30]"}
    check_keypoints_left_stays_left(ds)


def check_keypoint_mirror_is_exact():
    """A keypoint at a square's centre stays at the centre of the square's mirrored mask (through v2)."""
    frame = np.zeros((*SIZE, 3), np.uint8)
    mask = np.zeros((1, *SIZE), np.uint8)
    mask[0, 40:60, 30:50] = 1
    layout = KeypointLayout(("left_eye", "right_eye", "nose"), ())
    points = torch.tensor([[[40.0, 50.0, 2], [10.0, 5.0, 2], [40.0, 50.0, 2]]])
    instances = aug.Instances(torch.ones(1, dtype=torch.int64), tv_tensors.BoundingBoxes(
        torch.tensor([[30.0, 40, 50, 60]]), format="XYXY", canvas_size=SIZE),
        masks=tv_tensors.Mask(torch.from_numpy(mask)), keypoints=points)
    _, placed, _ = aug.place(frame, instances, SIZE, aug.Draw(True, 1.0), layout.flip_indices())
    box = masks_to_boxes(placed.masks)[0] + torch.tensor([0, 0, 1, 1])
    centre = torch.stack([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    assert torch.equal(placed.keypoints[0, 1, :2], centre)  # the left eye, mirrored, is a right eye
    assert torch.equal(placed.keypoints[0, 2, :2], centre)  # the nose stays the nose
    assert torch.equal(placed.keypoints[0, 0, :2], torch.tensor([SIZE[1] - 10.0, 5.0]))
    assert torch.equal(placed.boxes[0], box)


def test_keypoint_mirror_is_exact():
    check_keypoint_mirror_is_exact()


def test_flip_indices_pair_left_and_right():
    pairs = {LAYOUT.names[i]: LAYOUT.names[j] for i, j in enumerate(LAYOUT.flip_indices())}
    assert pairs["left_hand"] == "right_hand" and pairs["right_knee"] == "left_knee" and pairs["neck"] == "neck"
    assert KeypointLayout(("hand_L", "hand_r", "l_eye", "r_eye", "left"), ()).flip_indices() == [1, 0, 3, 2, 4]


def check_items_depend_on_key_alone(ds):
    a = ds[(7, 2)]
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    b = ds[(7, 2)]
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's generator is left alone
    c = ds[(8, 2)]
    assert torch.equal(a[0], b[0]) and all(torch.equal(a[1][k], b[1][k]) for k in a[1])
    assert not torch.equal(a[0], c[0])
    loaded = next(iter(torch.utils.data.DataLoader(ds, batch_sampler=[[(7, 2)]], num_workers=1,
                                                   collate_fn=lambda batch: batch[0])))
    assert torch.equal(loaded[0], a[0]) and torch.equal(loaded[1]["masks"], a[1]["masks"])


def test_same_key_same_item_in_any_process(augmented):
    check_items_depend_on_key_alone(augmented)


def test_strict_raises_on_the_first_bad_row(mask_set):
    with pytest.raises(UserError, match=r"image 901 \(corrupt.jpg\): the file is corrupt.*--strict"):
        CocoTrainSet(mask_set[0], mask_set[1], SIZE, strict=True)


def _whole_set_cases(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    _write(images / "a.png", np.zeros((20, 20, 3), np.uint8))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    good = {"images": [{"id": 1, "file_name": "a.png", "height": 20, "width": 20}], "annotations": [],
            "categories": [{"id": 1, "name": "thing"}]}
    files = {"truncated.json": json.dumps(good)[:40], "lacks.json": json.dumps({"images": []}),
             "nothing.json": json.dumps({**good, "images": [{"id": 1, "file_name": "gone.png", "height": 20,
                                                             "width": 20}]}),
             "good.json": json.dumps(good)}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    p = lambda name: str(tmp_path / name)
    return [((p("absent.json"), str(images)), {}, "annotations not found"),
            ((p("truncated.json"), str(images)), {}, "not valid JSON"),
            ((p("lacks.json"), str(images)), {}, "lacks the lists annotations, categories"),
            ((p("good.json"), p("nowhere")), {}, "image folder not found"),
            ((p("good.json"), p("empty")), {}, "holds no image files"),
            ((p("nothing.json"), str(images)), {}, "nothing left to train on: 1 row skipped .first: image 1 "
                                                   r"\(gone.png\): file missing"),
            ((p("good.json"), str(images)), {"keypoints": True}, "no category lists keypoints")]


def test_whole_set_errors_are_one_line(tmp_path):
    for args, kwargs, message in _whole_set_cases(tmp_path):
        with pytest.raises(UserError, match=message) as e:
            CocoTrainSet(*args, SIZE, **kwargs)
        assert "\n" not in str(e.value), str(e.value)


# Planted bugs: (name, what to patch -> buggy value, the check that must fail). Each breaks what one of our own
# oracles checks, in a copy of the code under test (monkeypatched for one check).
def _no_swap(original):
    return lambda instances, width, flip_indices: original(instances, width, None)


def _v2_keypoint_flip(original):  # v2's KeyPoints convention: x -> W - 1 - x
    def mirror(instances, width, flip_indices):
        out = original(instances, width, flip_indices)
        if out.keypoints is not None:
            out.keypoints[..., 0] -= 1
        return out
    return mirror


def _masks_not_mirrored(original):
    return lambda instances, width, flip_indices: dataclasses.replace(original(instances, width, flip_indices),
                                                                      masks=instances.masks)


def _nearest_masks():
    def resize(inpt, size, **kwargs):
        if isinstance(inpt, tv_tensors.Mask):
            kwargs["interpolation"] = InterpolationMode.NEAREST
        return F.resize(inpt, size, **kwargs)
    return types.SimpleNamespace(resize=resize, pad=F.pad, horizontal_flip=F.horizontal_flip)


PLANTS = {
    "no left/right swap": ("mirror", lambda: _no_swap(aug.mirror), "keypoints"),
    "keypoints mirrored as x -> W - 1 - x": ("mirror", lambda: _v2_keypoint_flip(aug.mirror), "exact mirror"),
    "masks not mirrored": ("mirror", lambda: _masks_not_mirrored(aug.mirror), "mirror"),
    "masks resized by nearest, not nearest-exact": ("F", _nearest_masks, "letterbox"),
    "frame one pixel narrower than the masks think": (
        "content_size", lambda: (lambda *a, f=aug.content_size: (f(*a)[0], f(*a)[1] - 1)), "letterbox"),
    "boxes with torchvision's inclusive x2": (
        "masks_to_boxes", lambda: (lambda m: masks_to_boxes(m) - torch.tensor([0, 0, 1, 1])), "boxes"),
    "no fork_rng around the draw": ("fork_rng", lambda: (lambda *a, **k: nullcontext()), "determinism"),
}


@pytest.mark.parametrize("plant", PLANTS)
def test_planted_bugs_are_caught(plant, monkeypatch, plain, augmented, mask_set, keypoint_set):
    name, buggy, check = PLANTS[plant]
    target = torch.random if name == "fork_rng" else aug
    monkeypatch.setattr(target, name, buggy())
    checks = {
        "keypoints": lambda: check_keypoints_left_stays_left(CocoTrainSet(*keypoint_set, SIZE, keypoints=True)),
        "exact mirror": check_keypoint_mirror_is_exact,
        "mirror": lambda: check_mirror_against_flipped_oracle(plain, mask_set[0]),
        "letterbox": lambda: check_letterbox_against_pycocotools(plain, _oracle(mask_set)),
        "boxes": lambda: check_augmented_boxes_follow_masks(augmented),
        "determinism": lambda: check_items_depend_on_key_alone(augmented),
    }
    with pytest.raises(AssertionError):
        checks[check]()
