import os

import pytest
import torch

from mrcnn_edge.threads import requested_threads

from helpers.random_init import RANDOM_INIT_SETTINGS, random_resnet_checkpoint
from helpers.shared import made_once, result_made_once, run_folder

# Tests share 2 cores with each other's subprocesses and, under `make test`, with the other pytest-xdist
# workers: one thread per session then (torch's, and through $MRCNN_EDGE_THREADS ONNX Runtime's and OpenVINO's,
# also in the CLI's subprocesses), two when pytest runs alone. Measured: two plugin-graph runs side by side
# on 2 cores take 7.6 s with one thread each, 9.3 s with two.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("MRCNN_EDGE_THREADS", "1")
    os.environ.setdefault("CPU_EXEC_WORKERS", "1")  # the CUDA kernels' execution layer: one worker thread
torch.set_num_threads(requested_threads() or 2)

# The heaviest files, heaviest first (seconds of test time in one run: two workers, 2 cores). Under `make test`
# (--no-loadscope-reorder) a free xdist worker takes the next file in collection order, so the heavy files start
# early and the light ones fill the end. xdist's own order (most tests first) left files of two 60-second tests
# to the end, on one worker, while the other sat idle (measured: 67 s apart).
HEAVIEST_FIRST = (
    "train/test_train_coco.py",  # 366 s alone (one training run of 240 iterations, then build and eval)
    "train/test_ddp_and_resume.py",  # ~120 s alone (five short training runs in subprocesses)
    "docs/test_quickstarts.py",  # the README's quick starts as written (an export, a training run, builds)
    "detectron2_oracle/test_parity.py",  # 193 s
    "surgery/test_surgery.py",  # 160 s
    "detectron2_oracle/test_pipeline.py",  # 79 s
    "check/test_toolkit_graphs.py",  # 67 s
    "export/test_keypoint_parity.py",  # 62 s
    "serving/test_triton_server.py",  # 55 s
    "engine/test_chain.py",  # 48 s
    "detectron2_oracle/test_keypoint_parity.py",  # 48 s
    "export/test_parity.py",  # 31 s
    "runtime/test_multistream.py",  # 29 s
    "serving/test_deepstream_parser.py",  # 27 s
    "surgery/test_plugin_kernels.py",  # 26 s
    "export/test_openvino_parity.py",  # 25 s
    "export/test_mobilenet_fpn.py",  # 39 s alone
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(HEAVIEST_FIRST)}

    def file_rank(item) -> int:
        path = item.nodeid.split("::")[0].removeprefix("tests/")
        return rank.get(path, len(rank))

    items.sort(key=file_rank)  # stable: the rest keep their order


@pytest.fixture(scope="session")
def shipped_checkpoint():
    from mrcnn_edge.model.zoo import SHIPPED_CHECKPOINT

    if not os.path.isfile(SHIPPED_CHECKPOINT):
        pytest.fail(f"shipped checkpoint missing: {SHIPPED_CHECKPOINT}")
    return SHIPPED_CHECKPOINT


SHIPPED = {"shipped": "masks", "shipped_keypoints": "keypoints"}  # exported_model's arch -> zoo task


@pytest.fixture(scope="session")
def exported_model(tmp_path_factory, shipped_checkpoint):
    """exported_model(arch, (H, W), batch_size=1) -> path of model.onnx, exported once per run and shared by
    the run's workers (tests/helpers/shared.py).

    arch "shipped" is the shipped checkpoint, "shipped_keypoints" the shipped keypoint model; the ResNet-50
    architectures are seeded random inits exported with RANDOM_INIT_SETTINGS. batch_size None: a dynamic batch axis.
    """
    from mrcnn_edge.export.onnx_export import export_onnx
    from mrcnn_edge.model.zoo import default_checkpoint

    root = run_folder(tmp_path_factory, "exports")

    def get(arch: str, size: tuple[int, int], batch_size: int | None = 1) -> str:
        out = root / f"{arch}_{size[0]}x{size[1]}{'' if batch_size == 1 else '_dynamic'}.onnx"
        if arch in SHIPPED:
            checkpoint = default_checkpoint(SHIPPED[arch])
            return made_once(out, lambda path: export_onnx(checkpoint, path, size, batch_size=batch_size,
                                                           progress=False))
        weights = made_once(root / f"{arch}.pth", lambda path: random_resnet_checkpoint(arch, path))
        return made_once(out, lambda path: export_onnx(weights, path, size, batch_size=batch_size, progress=False,
                                                       **RANDOM_INIT_SETTINGS))

    return get


@pytest.fixture(scope="session")
def surgeried_model(exported_model, tmp_path_factory):
    """surgeried_model(arch, (H, W), batch_size=1) -> SurgeryResult of that export, made once per run
    (tests/surgery checks it against ONNX Runtime; tests/check holds it to TensorRT's rules)."""
    from mrcnn_edge.surgery.surgeon import SurgeryResult, surgeon

    root = run_folder(tmp_path_factory, "surgery")

    def get(arch: str, size: tuple[int, int], batch_size: int | None = 1):
        name = f"{arch}_{size[0]}x{size[1]}{'' if batch_size == 1 else '_dynamic'}.trt.onnx"
        source = exported_model(arch, size, batch_size)
        return result_made_once(root / name, lambda path: surgeon(source, path), SurgeryResult)

    return get

