"""A real Triton Inference Server (the nvidia-pytriton wheel's binary) on 127.0.0.1, serving the shipped
light model (triton_helpers.SIZE) through the `python` kind of export-triton: started once per session."""
import pytest

from helpers.contract_model import make_model, model_onnx  # noqa: F401 (fixtures for the bundle tests)

from triton_helpers import (BATCHED_SIZE, KEYPOINT_SIZE, LOCAL_BACKEND, SIZE, THREADS, free_ports, require_tritonserver,
                            write_repository)


@pytest.fixture(scope="session")
def light_models(exported_model):
    """(batch-1 model.onnx at SIZE, dynamic-batch model.onnx at BATCHED_SIZE) of the shipped light model."""
    return exported_model("shipped", SIZE), exported_model("shipped", BATCHED_SIZE, batch_size=None)


@pytest.fixture(scope="session")
def keypoint_model(exported_model):
    """The shipped keypoint model's model.onnx at KEYPOINT_SIZE (shared with tests/runtime/test_keypoint_run.py)."""
    return exported_model("shipped_keypoints", KEYPOINT_SIZE)


@pytest.fixture(scope="session")
def triton_server(light_models, keypoint_model, tmp_path_factory):
    from mrcnn_edge.serving.server import TritonServer

    require_tritonserver()
    root = tmp_path_factory.mktemp("triton")
    repo = write_repository(root / "repo", *light_models, keypoints=keypoint_model)
    server = TritonServer(repo, *free_ports(3), log_path=str(root / "tritonserver.log"))
    with server:
        yield server


@pytest.fixture(scope="session")
def local_light(light_models):
    from mrcnn_edge.runtime.predictor import Predictor

    return Predictor.from_path(light_models[0], threads=THREADS, backend=LOCAL_BACKEND)


@pytest.fixture(scope="session")
def frames():
    """Synthetic val images (512x512: letterboxed to the model's size on the client, as any frame)."""
    from mrcnn_edge.data.synthetic import VAL, sample

    return [sample(VAL, i)[0] for i in range(4)]


@pytest.fixture(scope="session")
def video(tmp_path_factory):
    from mrcnn_edge.data.video import make_video

    return make_video(str(tmp_path_factory.mktemp("video") / "shapes.mp4"), num_frames=12, size=256)
