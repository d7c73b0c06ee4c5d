"""Bad input: one-line UserErrors from the library, and through the CLI a non-zero exit with one line."""
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mrcnn_edge.cli import main
from mrcnn_edge.errors import UserError
from mrcnn_edge.export.onnx_export import export_onnx
from mrcnn_edge.runtime import Predictor


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


def _cli_error(argv: list[str], capsys) -> list[str]:
    """Run the CLI on argv; it must exit 2. Its stderr lines."""
    assert main(argv) == 2
    return capsys.readouterr().err.strip().splitlines()


@pytest.fixture()
def foreign_onnx(tmp_path):
    """A valid ONNX model that is not ours (an Identity), with a sidecar that looks like ours."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 18)])
    path = tmp_path / "foreign.onnx"
    onnx.save(model, path)
    return path


def test_missing_checkpoint(tmp_path):
    with pytest.raises(UserError) as error:
        export_onnx(str(tmp_path / "missing.pth"), str(tmp_path / "m.onnx"), progress=False)
    assert "not found" in _one_line(error)


@pytest.mark.parametrize("size", [(500, 512), (512, 288), (1376, 320)])
def test_bad_size(light_random_checkpoint, tmp_path, size):
    with pytest.raises(UserError) as error:
        export_onnx(light_random_checkpoint, str(tmp_path / "m.onnx"), size, progress=False)
    assert "multiple of 32" in _one_line(error)


def test_onnx_without_sidecar(foreign_onnx):
    with pytest.raises(UserError) as error:
        Predictor.from_onnx(str(foreign_onnx))
    assert "sidecar" in _one_line(error)


def test_onnx_not_ours(foreign_onnx):
    sidecar = {"arch": "x", "classes": [], "input_size": [320, 320], "precision": "fp32", "detections": 1}
    foreign_onnx.with_suffix(".json").write_text(json.dumps(sidecar))
    with pytest.raises(UserError) as error:
        Predictor.from_onnx(str(foreign_onnx))
    assert "not an mrcnn-edge model" in _one_line(error)


@pytest.mark.parametrize("frame", [[[0, 0, 0]], np.zeros((64, 64, 3), np.float32), np.zeros((64, 64), np.uint8)])
def test_bad_frame(light_random_onnx, frame):
    predictor = Predictor.from_onnx(light_random_onnx.path)
    with pytest.raises(UserError) as error:
        predictor(frame)
    assert "HxWx3 uint8" in _one_line(error)


def test_wrong_input_size(light_random_onnx):
    predictor = Predictor.from_onnx(light_random_onnx.path)
    with pytest.raises(UserError) as error:
        predictor.infer(np.zeros((1, 3, 320, 352), np.uint8))
    assert "1x3x320x320" in _one_line(error)


@pytest.mark.parametrize("argv", [["--weights", "/nonexistent/model.pth"], ["--size", "500x512"]])
def test_cli_one_line_error(light_random_checkpoint, tmp_path, capsys, argv):
    if "--weights" not in argv:
        argv = argv + ["--weights", light_random_checkpoint]
    assert main(["export", *argv, "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mrcnn-edge export: error: ") and "Traceback" not in err


@pytest.fixture()
def truncated_onnx(light_random_onnx, tmp_path):
    """The first third of a real model.onnx, beside a copy of its real sidecar (as a cut download leaves it)."""
    whole = open(light_random_onnx.path, "rb").read()
    path = tmp_path / "model.onnx"
    path.write_bytes(whole[: len(whole) // 3])
    (tmp_path / "model.json").write_text(open(light_random_onnx.sidecar).read())
    return str(path)


@pytest.mark.parametrize("command", [
    ["surgery", "{m}"], ["export-triton", "--model", "{m}", "--repository", "{d}/repo"],
    ["quantize", "{m}", "--precision", "fp16"], ["calibrate", "{m}", "--num-images", "1"],
    ["build", "--model", "{m}"], ["check", "{m}"], ["inspect", "{m}"],
    ["run", "--model", "{m}", "--source", "{d}"], ["bench", "--model", "{m}"],
    ["eval", "--model", "{m}", "--num-images", "1"], ["export-deepstream", "--model", "{m}", "-o", "{d}/ds"],
], ids=lambda c: c[0])
def test_a_truncated_model_is_one_line_for_every_command(truncated_onnx, tmp_path, capsys, command):
    err = _cli_error([a.format(m=truncated_onnx, d=tmp_path) for a in command], capsys)
    assert len(err) == 1 and "is not an ONNX model" in err[0], err


def test_serve_on_a_folder_without_a_model_is_one_line(tmp_path, capsys):
    err = _cli_error(["serve", "--repository", str(tmp_path)], capsys)
    assert len(err) == 1 and "holds no model" in err[0], err


@pytest.fixture()
def truncated_checkpoint(shipped_checkpoint, tmp_path):
    """The first 5 MB of the shipped checkpoint, as a cut download leaves it."""
    path = tmp_path / "cut.pth"
    with open(shipped_checkpoint, "rb") as f:
        path.write_bytes(f.read(5 << 20))
    return str(path)


@pytest.mark.parametrize("command", [
    ["export", "--weights", "{w}", "-o", "{d}/m.onnx"], ["build", "--weights", "{w}", "--out-dir", "{d}/b"],
    ["eval", "--model", "{w}", "--num-images", "1"], ["train", "--init", "{w}", "--out", "{d}/t"],
    ["train", "--task", "keypoints", "--init-backbone", "{w}", "--out", "{d}/t"],
], ids=lambda c: " ".join(a for a in c[:3] if not a.startswith("{")))
def test_a_truncated_checkpoint_is_one_line_for_every_command(truncated_checkpoint, tmp_path, capsys, command):
    err = _cli_error([a.format(w=truncated_checkpoint, d=tmp_path) for a in command], capsys)
    assert err and "is truncated or corrupt" in err[-1] and "Traceback" not in "".join(err), err  # after a bar


@pytest.mark.parametrize("command, says", [
    (["run", "--model", "{m}", "--source", "{e}"], "no image files in"),
    (["calibrate", "{m}", "--source", "{e}", "--num-images", "1"], "no images"),
    (["run", "--model", "{m}", "--source", "{e}/none.mp4"], "source not found"),
    (["eval", "--data", "{e}/none.json", "--images", "{e}"], "annotations not found"),
    (["export", "--weights", "{e}/none.pth"], "checkpoint not found"),
    (["check", "{e}/none.onnx"], "model not found"), (["inspect", "{e}"], "model not found"),
], ids=lambda c: c[0] if isinstance(c, list) else None)
def test_an_empty_folder_or_a_missing_file_is_one_line(light_random_onnx, tmp_path, capsys, command, says):
    empty = tmp_path / "empty"
    empty.mkdir()
    err = _cli_error([a.format(m=light_random_onnx.path, e=empty) for a in command], capsys)
    assert len(err) == 1 and says in err[0], err
