import pytest
import torch

from mrcnn_edge.model.architectures import LIGHT_ARCH, build_model
from mrcnn_edge.model.checkpoint import save_checkpoint

from helpers.shared import made_once, result_made_once, run_folder

CLASSES = ("circle", "rectangle", "triangle", "star")


def _light_random(path: str) -> None:
    torch.manual_seed(0)
    save_checkpoint(path, build_model(LIGHT_ARCH, num_classes=len(CLASSES) + 1), arch=LIGHT_ARCH,
                    classes=CLASSES, input_size=(320, 320))


@pytest.fixture(scope="session")
def light_random_checkpoint(tmp_path_factory):
    """A seeded random-init light model saved in our checkpoint format, made once per run."""
    return made_once(run_folder(tmp_path_factory, "light_random") / "light_random.pth", _light_random)


@pytest.fixture(scope="session")
def light_random_onnx(light_random_checkpoint, tmp_path_factory):
    """Its export, made once per run (an ExportResult)."""
    from mrcnn_edge.export.onnx_export import ExportResult, export_onnx

    out = run_folder(tmp_path_factory, "light_random") / "light.onnx"
    return result_made_once(out, lambda path: export_onnx(light_random_checkpoint, path, progress=False), ExportResult)
