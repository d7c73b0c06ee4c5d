"""Helpers of the Triton server tests (a module, so both conftest and the tests import them)."""
from helpers import skip_or_fail
from mrcnn_edge.serving.server import free_ports  # noqa: F401 (the tests import it from here)

# Sizes other tests export too, so each is exported once a run (tests/conftest.py's exported_model): the light model
# at 320x448, its batching flavour at 512x512, the keypoint model at 320x320
SIZE, BATCHED_SIZE, KEYPOINT_SIZE = (320, 448), (512, 512), (320, 320)
THREADS = 2  # ONNX Runtime threads on both sides: the test machine has 2 cores
# The server's Python backend runs ONNX Runtime, so "local" is ONNX Runtime too (auto would take OpenVINO,
# whose float sums round differently in the last bits)
LOCAL_BACKEND = "onnxruntime"


def require_tritonserver():
    from mrcnn_edge.errors import UserError
    from mrcnn_edge.serving.server import find_tritonserver

    try:
        return find_tritonserver()
    except UserError as e:  # `make test` installs it; elsewhere say why these tests cannot run
        skip_or_fail(str(e))



def write_repository(root, light, light_b, keypoints=None):
    """light (fixed batch), light_b (dynamic batching), contract_mismatch (light with a renamed output) and
    keypoints (the shipped keypoint model)."""
    from mrcnn_edge.serving.repository import export_triton

    repo = str(root)
    export_triton(light, repo, name="light", kind="python", threads=THREADS)
    if keypoints:
        export_triton(keypoints, repo, name="keypoints", kind="python", threads=THREADS)
    if light_b:
        export_triton(light_b, repo, name="light_b", kind="python", threads=THREADS)
        wrong = export_triton(light, repo, name="contract_mismatch", kind="python", threads=THREADS).config
        text = open(wrong).read().replace('name: "masks"', 'name: "mask_logits"')
        open(wrong, "w").write(text)
    return repo


def grpc_url(server, name="light"):
    return f"triton://{server.endpoints['grpc']}/{name}"


def http_url(server, name="light"):
    return f"http://{server.endpoints['http']}/{name}"
