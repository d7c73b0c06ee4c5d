"""`mrcnn-edge train --data` on bad input: one line naming the problem and the fix, exit 2, before any training."""
import json

import pytest

from mrcnn_edge.cli import main
from mrcnn_edge.data.hardware import write_hardware_coco


@pytest.fixture(scope="module")
def coco_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_set")
    return write_hardware_coco(str(root), num_images=3, seed=2, sizes=((128, 128),)), str(root / "images")


def _error(argv, capsys) -> str:
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mrcnn-edge train: error: "), lines
    return lines[0]


def test_a_truncated_json(coco_set, tmp_path, capsys):
    truncated = tmp_path / "cut.json"
    truncated.write_text(open(coco_set[0]).read()[:200])
    assert "JSON" in _error(["train", "--data", str(truncated), "--images", coco_set[1], "--out", str(tmp_path / "r")],
                            capsys)


def test_an_empty_images_folder(coco_set, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    line = _error(["train", "--data", coco_set[0], "--images", str(tmp_path / "empty"), "--out", str(tmp_path / "r")],
                  capsys)
    assert "empty" in line or "no image" in line


def test_val_data_without_val_images(coco_set, tmp_path, capsys):
    line = _error(["train", "--data", coco_set[0], "--images", coco_set[1], "--val-data", coco_set[0],
                   "--out", str(tmp_path / "r")], capsys)
    assert "--val-images" in line


def test_nothing_trainable(coco_set, tmp_path, capsys):
    coco = json.load(open(coco_set[0]))
    for image in coco["images"]:
        image["file_name"] = "gone_" + image["file_name"]
    broken = tmp_path / "gone.json"
    broken.write_text(json.dumps(coco))
    line = _error(["train", "--data", str(broken), "--images", coco_set[1], "--out", str(tmp_path / "r")], capsys)
    assert "trainable" in line or "skipped" in line


def test_resume_with_nothing_to_resume(coco_set, tmp_path, capsys):
    line = _error(["train", "--data", coco_set[0], "--images", coco_set[1], "--resume", "--out", str(tmp_path / "r")],
                  capsys)
    assert "nothing to resume" in line


def test_a_starting_point_of_another_architecture(coco_set, tmp_path, capsys):
    import torch
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    r50 = tmp_path / "r50.pth"
    torch.save(maskrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict(), r50)
    line = _error(["train", "--data", coco_set[0], "--images", coco_set[1], "--init", str(r50),
                   "--out", str(tmp_path / "r")], capsys)
    assert "maskrcnn_resnet50_fpn" in line


def test_a_size_build_could_not_take(coco_set, tmp_path, capsys):
    """A model trained at a size export refuses would be stranded after training: refused before it starts."""
    line = _error(["train", "--data", coco_set[0], "--images", coco_set[1], "--size", "256x256",
                   "--out", str(tmp_path / "r")], capsys)
    assert "--size 320x320" in line
