"""Real photos as users have them (scikit-image's sample images) through `run --source FOLDER`: EXIF
orientations 3/6/8, CMYK, 16-bit, palette, grey, opaque and transparent alpha. Dimensions must be what a
viewer shows (Pillow's ImageOps.exif_transpose is the oracle), boxes inside them; a bad file is skipped,
counted and named, and --strict makes it an error."""
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from helpers import require_module
from mrcnn_edge.cli import main
from mrcnn_edge.images import read_image

skimage_data = require_module("skimage.data")


@pytest.fixture(scope="module")
def random_light_onnx(tmp_path_factory):
    """A seeded random-init light model at 320x320 with score threshold 0: it detects on any photo."""
    from mrcnn_edge.export.onnx_export import export_onnx
    from mrcnn_edge.model.architectures import LIGHT_ARCH, build_model
    from mrcnn_edge.model.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("kinds_model")
    torch.manual_seed(0)
    save_checkpoint(str(root / "light.pth"), build_model(LIGHT_ARCH, num_classes=5), arch=LIGHT_ARCH,
                    classes=["a", "b", "c", "d"])
    return export_onnx(str(root / "light.pth"), str(root / "light.onnx"), (320, 320), progress=False,
                       box_score_thresh=0.0, box_detections_per_img=20).path


def _with_exif(image: Image.Image, path, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, exif=exif, quality=90)


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """One file per kind, made from scikit-image's photos (small, so the run is quick)."""
    folder = tmp_path_factory.mktemp("photos")
    coffee = Image.fromarray(skimage_data.coffee()).resize((240, 160))  # wider than tall
    chelsea = Image.fromarray(skimage_data.chelsea()).resize((225, 150))
    for orientation in (3, 6, 8):
        _with_exif(coffee, folder / f"exif{orientation}.jpg", orientation)
    chelsea.convert("CMYK").save(folder / "cmyk.jpg")
    chelsea.convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "palette.png")
    camera = Image.fromarray(skimage_data.camera()).resize((200, 200))
    camera.save(folder / "grey.png")
    Image.fromarray(np.asarray(camera).astype(np.uint16) * 257).save(folder / "grey16.png")  # mode I;16
    import cv2

    astronaut = cv2.resize(skimage_data.astronaut(), (180, 180))
    cv2.imwrite(str(folder / "rgb16.png"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    Image.fromarray(rgba).save(folder / "opaque_rgba.png")
    rgba[:20, :20, 3] = 0
    Image.fromarray(rgba).save(folder / "transparent.png")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return str(folder)


READABLE = ["cmyk.jpg", "exif3.jpg", "exif6.jpg", "exif8.jpg", "grey.png", "grey16.png", "opaque_rgba.png",
            "palette.png", "rgb16.png", "transparent.png"]


def _viewer_size(path):
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).size[::-1]  # (height, width)


def test_exif_orientation_matches_pillows_transpose(photo_folder):
    for orientation in (3, 6, 8):
        path = os.path.join(photo_folder, f"exif{orientation}.jpg")
        with Image.open(path) as image:
            oracle = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
        assert np.array_equal(read_image(path), oracle), orientation
    assert read_image(os.path.join(photo_folder, "exif6.jpg")).shape[:2] == (240, 160)  # portrait, as shown


def test_every_kind_through_run_folder(photo_folder, random_light_onnx, tmp_path, capsys):
    from mrcnn_edge.runtime.predictor import Predictor

    jsonl, report = tmp_path / "dets.jsonl", tmp_path / "report"
    rc = main(["run", "--model", random_light_onnx, "--source", photo_folder, "--jsonl", str(jsonl),
               "--report-dir", str(report), "--score-threshold", "0"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    rows = {r["name"]: r for r in map(json.loads, jsonl.read_text().splitlines())}
    assert sorted(rows) == READABLE
    for name, row in rows.items():
        h, w = _viewer_size(os.path.join(photo_folder, name))
        assert (row["height"], row["width"]) == (h, w), name
        assert row["detections"], name
        for det in row["detections"]:
            x1, y1, x2, y2 = det["box"]
            assert 0 <= x1 <= x2 <= w and 0 <= y1 <= y2 <= h, (name, det["box"])
            assert det["mask"]["size"] == [h, w]
    # the boxes are in the upright frame: the same as the predictor's on Pillow's upright pixels
    predictor = Predictor.from_path(random_light_onnx)
    with Image.open(os.path.join(photo_folder, "exif6.jpg")) as image:
        upright = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    expected = predictor(upright)
    got = np.array([d["box"] for d in rows["exif6.jpg"]["detections"][: len(expected)]])
    np.testing.assert_allclose(got, expected.boxes[: len(got)], atol=0.01)
    skipped = json.loads((report / "report.json").read_text())["skipped"]
    assert [os.path.basename(s["file"]) for s in skipped] == ["corrupt.jpg"]
    assert "skipped 1 unreadable file" in captured.out and "corrupt.jpg" in captured.out


def test_strict_makes_a_skip_an_error(photo_folder, random_light_onnx, tmp_path, capsys):
    rc = main(["run", "--model", random_light_onnx, "--source", os.path.join(photo_folder, "*.jpg"), "--strict"])
    assert rc == 2 and "corrupt.jpg" in capsys.readouterr().err


def test_a_folder_with_no_readable_image_is_an_error(photo_folder, random_light_onnx, tmp_path, capsys):
    rc = main(["run", "--model", random_light_onnx, "--source", os.path.join(photo_folder, "corrupt.*")])
    err = capsys.readouterr().err
    assert rc == 2 and "no image of" in err and "1 skipped" in err
