"""Session fixtures: the seeded detectron2 weights (weights.py) as files, and their exports."""
import os

import numpy as np
import pytest

from helpers.shared import made_once, run_folder

REFERENCE = os.path.join(os.path.dirname(__file__), "reference.npz")


@pytest.fixture(scope="session")
def reference():
    """key 'r{depth}/{H}x{W}/{photo}/{field}' -> detectron2's output (make_reference.py)."""
    with np.load(REFERENCE) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="session")
def detectron2_state():
    """(depth, head) -> the generated state dict (detectron2's keys, numpy arrays), made once per session."""
    from .weights import make_weights

    cache = {}

    def get(depth: int, head: str = "mask") -> dict:
        if (depth, head) not in cache:
            cache[depth, head] = make_weights(depth, head=head)
        return cache[depth, head]

    return get


@pytest.fixture(scope="session")
def detectron2_pkl(tmp_path_factory, detectron2_state):
    """(depth, head) -> the weights as detectron2's .pkl, written once per run (tests/helpers/shared.py)."""
    from .weights import write_pkl

    root = run_folder(tmp_path_factory, "detectron2")

    def get(depth: int, head: str = "mask") -> str:
        name = f"model_final_r{depth}.pkl" if head == "mask" else f"model_final_{head}_r{depth}.pkl"
        return made_once(root / name, lambda path: write_pkl(path, detectron2_state(depth, head)))

    return get


@pytest.fixture(scope="session")
def detectron2_export(tmp_path_factory, detectron2_pkl):
    """(depth, size, surgery, head, detections) -> model.onnx (or model.trt.onnx), exported once per run;
    detections None: detectron2's (100)."""
    from mrcnn_edge.export.onnx_export import export_onnx
    from mrcnn_edge.surgery.surgeon import surgeon

    root = run_folder(tmp_path_factory, "detectron2_exports")

    def get(depth: int, size: tuple[int, int], plugins: bool = False, head: str = "mask",
            detections: int | None = None) -> str:
        settings = {"box_detections_per_img": detections} if detections else {}
        out = root / f"{head}_r{depth}_{size[0]}x{size[1]}{f'_top{detections}' if detections else ''}.onnx"
        path = made_once(out, lambda path: export_onnx(detectron2_pkl(depth, head), path, size, progress=False,
                                                       **settings))
        if not plugins:
            return path
        return made_once(path.removesuffix(".onnx") + ".trt.onnx", lambda trt: surgeon(path, trt))

    return get


def reference_detections(reference, depth, size, photo):
    """detectron2's (boxes, scores, classes, masks bool [N,H,W]) for one frame."""
    import json

    from pycocotools import mask as mask_util

    key = f"r{depth}/{size[0]}x{size[1]}/{photo}"
    counts = json.loads(reference[f"{key}/rle"].tobytes().decode())
    masks = mask_util.decode([{"size": list(size), "counts": c} for c in counts]).transpose(2, 0, 1).astype(bool)
    return reference[f"{key}/boxes"], reference[f"{key}/scores"], reference[f"{key}/classes"], masks
