import pytest

from mrcnn_edge import __version__
from mrcnn_edge.cli import main
from mrcnn_edge.model.architectures import ARCHITECTURES


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"mrcnn-edge {__version__}"


def test_models_lists_architectures_and_shipped_checkpoint(shipped_checkpoint, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ARCHITECTURES:
        assert name in out
    assert shipped_checkpoint in out
    assert "circle, rectangle, triangle, star" in out


def test_eval_bad_checkpoint_is_one_line(tmp_path, capsys):
    assert main(["eval", "--model", str(tmp_path / "missing.pth")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checkpoint not found" in err and "Traceback" not in err
