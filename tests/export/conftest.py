import pytest
import torch

from mrcnn_edge.model.architectures import LIGHT_ARCH, build_model
from mrcnn_edge.model.checkpoint import save_checkpoint

CLASSES = ("circle", "rectangle", "triangle", "star")


@pytest.fixture(scope="session")
def light_random_checkpoint(tmp_path_factory):
    """A seeded random-init light model saved in our checkpoint format."""
    torch.manual_seed(0)
    path = str(tmp_path_factory.mktemp("ckpt") / "light_random.pth")
    save_checkpoint(path, build_model(LIGHT_ARCH, num_classes=len(CLASSES) + 1), arch=LIGHT_ARCH,
                    classes=CLASSES, input_size=(320, 320))
    return path


@pytest.fixture(scope="session")
def light_random_onnx(light_random_checkpoint, tmp_path_factory):
    from mrcnn_edge.export.onnx_export import export_onnx

    return export_onnx(light_random_checkpoint, str(tmp_path_factory.mktemp("onnx") / "light.onnx"), progress=False)
