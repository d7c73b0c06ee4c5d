"""The DeepStream parser's C++ core (plugins/deepstream) on real model outputs against the Python post-process.

The shipped model runs in ONNX Runtime on synthetic frames, at batch 1 and at batch 3 (the --dynamic-batch
export). Its outputs go through the core, one image at a time at its own offset as nvinfer calls a parser
(nvds_core_driver.cpp), and must equal `to_detections` (runtime/postprocess.py) on the same outputs: the
same rows, classes and scores, boxes within 1e-4, the 28x28 probabilities bit for bit, and the masks pasted
from the parser's boxes equal to the runtime's. Bugs planted in a copy of the core must each be caught.
With the DeepStream harness built (MRCNN_EDGE_NVDS_HARNESS and MRCNN_EDGE_NVDS_PARSER, docs/deepstream.md),
the DeepStream entry's output must be byte-equal to the core's.
"""
import os
import shutil
import subprocess

import numpy as np
import pytest

from mrcnn_edge.data.synthetic import VAL, sample
from mrcnn_edge.letterbox import letterbox
from mrcnn_edge.runtime.postprocess import paste_masks, to_detections
from mrcnn_edge.runtime.preprocess import Letterbox
from helpers import skip_or_fail

SOURCES = os.path.join(os.path.dirname(__file__), "..", "..", "plugins", "deepstream")
SIZE = (VAL.height, VAL.width)
CORE = "mrcnn_edge_nvds_core.cpp"
# (what the bug is, text in the core, its replacement)
MUTANTS = [("the class threshold kept as > not >=", "rows.scores[row] >= params.thresholds", "rows.scores[row] > params.thresholds"),
           ("class ids not shifted to 0-based", "rows.classes[row] - 1;", "rows.classes[row];"),
           ("width written as x2", "box[2] - box[0]", "box[2]"),
           ("each row given the mask of the row after it", "cells * row;", "cells * (row + 1);"),
           ("padding rows parsed (K, not num_detections)", "row < static_cast<unsigned>(rows.count)", "row < rows.K")]


def _compile(tmp_path, core_source=None):
    compiler = shutil.which("g++")
    if compiler is None:
        skip_or_fail("no g++: the parser core needs a C++17 compiler (`make test` needs one too)")
    exe = tmp_path / "nvds_core_driver"
    core = core_source or os.path.join(SOURCES, CORE)
    subprocess.run([compiler, "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror", "-I", SOURCES, "-o", str(exe),
                    os.path.join(SOURCES, "nvds_core_driver.cpp"), str(core)], check=True)
    return str(exe)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    return _compile(tmp_path_factory.mktemp("nvds"))


def _frames(first, count):
    return np.concatenate([letterbox(sample(VAL, i)[0], SIZE)[0] for i in range(first, first + count)])


@pytest.fixture(scope="module")
def outputs(exported_model):
    """Real outputs: {batch: raw outputs}, batch 1 on frame 0 and batch 3 on frames 1..3."""
    import onnxruntime as ort

    def run(model, images):
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        return dict(zip([o.name for o in session.get_outputs()], session.run(None, {"images": images})))

    return {1: run(exported_model("shipped", SIZE), _frames(0, 1)),
            3: run(exported_model("shipped", SIZE, batch_size=None), _frames(1, 3))}


def write_batch(path, raw, thresholds):
    """The driver's input file (plugins/deepstream/nvds_io.h)."""
    B, K, H, W = raw["masks"].shape
    with open(path, "wb") as f:
        np.array([B, K, H, W, len(thresholds)], np.int32).tofile(f)
        np.asarray(thresholds, np.float32).tofile(f)
        for name, dtype in (("num_detections", np.int32), ("boxes", np.float32), ("scores", np.float32),
                            ("classes", np.int32), ("masks", np.float32)):
            np.ascontiguousarray(raw[name], dtype).tofile(f)


def read_instances(path, B):
    """The driver's output file: per image a list of (classId, [l, t, w, h, conf], mask w, h, bytes, mask)."""
    data, at, images = open(path, "rb").read(), 0, []
    for _ in range(B):
        (n,), at = np.frombuffer(data, np.int32, 1, at), at + 4
        instances = []
        for _ in range(n):
            class_id = int(np.frombuffer(data, np.uint32, 1, at)[0])
            box = np.frombuffer(data, np.float32, 5, at + 4)
            w, h, size = (int(v) for v in np.frombuffer(data, np.uint32, 3, at + 24))
            mask = np.frombuffer(data, np.float32, w * h, at + 36).reshape(h, w)
            instances.append((class_id, box, w, h, size, mask))
            at += 36 + 4 * w * h
        images.append(instances)
    assert at == len(data), "trailing bytes in the instance file"
    return images


def parse(driver, tmp_path, raw, thresholds):
    write_batch(tmp_path / "outputs.bin", raw, thresholds)
    done = subprocess.run([driver, str(tmp_path / "outputs.bin"), str(tmp_path / "instances.bin")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return read_instances(tmp_path / "instances.bin", raw["masks"].shape[0])


def expected(raw, image, thresholds):
    """The Python post-process on the same outputs, in network-input pixels (scale 1, frame = input), with
    nvinfer's per-class pre-cluster thresholds applied to its rows (what DeepStream keeps)."""
    detections = to_detections(raw, Letterbox(1.0, *SIZE), image=image)
    keep = detections.scores >= np.asarray(thresholds, np.float32)[detections.classes - 1]
    return detections, keep


def mismatches(raw, images, thresholds):
    """Every way the parser's instances differ from the Python post-process (empty: they agree)."""
    problems = []
    for b, instances in enumerate(images):
        detections, keep = expected(raw, b, thresholds)
        rows = np.flatnonzero(keep)
        if len(instances) != len(rows):
            problems.append(f"image {b}: {len(instances)} instances, the post-process keeps {len(rows)}")
            continue
        if not instances:
            continue
        classes = np.array([i[0] for i in instances]) + 1
        boxes = np.array([i[1][:4] for i in instances])
        xyxy = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], 1)
        masks = np.stack([i[5] for i in instances])
        M = raw["masks"].shape[-1]
        checks = {"classes": np.array_equal(classes, detections.classes[rows]),
                  "scores": np.array_equal(np.array([i[1][4] for i in instances]), detections.scores[rows]),
                  "boxes": np.allclose(xyxy, detections.boxes[rows], rtol=0, atol=1e-4),
                  "mask sizes": all((i[2], i[3], i[4]) == (M, M, M * M * 4) for i in instances),
                  "mask probabilities": np.array_equal(masks, raw["masks"][b, : len(keep)][keep]),
                  "pasted masks": np.array_equal(paste_masks(masks, xyxy.astype(np.float32), *SIZE),
                                                 detections.masks[rows])}
        problems += [f"image {b}: {what} differ" for what, ok in checks.items() if not ok]
    return problems


def with_live_padding(raw):
    """raw with its padding rows made to look like detections (class 1, score 0.99). The contract leaves
    rows at or past num_detections unspecified; the model happens to pad with class 0 and score -1, which
    any threshold drops, so only this shows that num_detections is what bounds the rows read."""
    raw = {k: v.copy() for k, v in raw.items()}
    for b, n in enumerate(raw["num_detections"]):
        raw["classes"][b, n:], raw["scores"][b, n:], raw["boxes"][b, n:] = 1, 0.99, [1, 2, 30, 40]
    return raw


def thresholds_on_a_score(raw):
    """Per-class thresholds, one of them exactly a detection's score (where >= and > part)."""
    n = int(raw["num_detections"][0])
    thresholds = [0.05, 0.3, 0.5, 0.2]
    thresholds[int(raw["classes"][0, n // 2]) - 1] = float(raw["scores"][0, n // 2])
    return thresholds


@pytest.mark.parametrize("batch", [1, 3])
def test_core_equals_the_python_postprocess(driver, outputs, tmp_path, batch):
    raw = with_live_padding(outputs[batch])
    assert all(raw["num_detections"] > 3) and all(raw["num_detections"] < raw["scores"].shape[1])
    for thresholds in ([0.05] * 4, thresholds_on_a_score(raw)):
        images = parse(driver, tmp_path, raw, thresholds)
        assert len(images) == batch and all(images), "every image of the batch parsed, none empty"
        assert mismatches(raw, images, thresholds) == []
    if batch == 3:  # each image its own, not the first one's again
        assert len({len(i) for i in images}) > 1 or images[0][0][1][0] != images[1][0][1][0]


@pytest.mark.parametrize("what, text, bug", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_planted_bugs_are_caught(outputs, tmp_path, what, text, bug):
    source = open(os.path.join(SOURCES, CORE)).read()
    assert source.count(text) == 1, f"the mutation site of '{what}' moved"
    mutant = tmp_path / CORE
    mutant.write_text(source.replace(text, bug))
    driver = _compile(tmp_path, mutant)
    raw = with_live_padding(outputs[3])
    thresholds = thresholds_on_a_score(raw)
    write_batch(tmp_path / "outputs.bin", raw, thresholds)
    done = subprocess.run([driver, str(tmp_path / "outputs.bin"), str(tmp_path / "instances.bin")])
    assert done.returncode != 0 or mismatches(raw, read_instances(tmp_path / "instances.bin", 3), thresholds), \
        f"planted bug not caught: {what}"


def test_deepstream_entry_equals_the_core(driver, outputs, tmp_path):
    harness, library = os.environ.get("MRCNN_EDGE_NVDS_HARNESS"), os.environ.get("MRCNN_EDGE_NVDS_PARSER")
    if not (harness and library):
        pytest.skip("needs the DeepStream harness built against nvdsinfer headers (docs/deepstream.md): "
                    "MRCNN_EDGE_NVDS_HARNESS=nvds_parser_harness MRCNN_EDGE_NVDS_PARSER=libmrcnn_edge_nvds_parser.so")
    for batch in (1, 3):
        raw = with_live_padding(outputs[batch])
        thresholds = thresholds_on_a_score(raw)
        core = parse(driver, tmp_path, raw, thresholds)
        core_bytes = (tmp_path / "instances.bin").read_bytes()
        subprocess.run([harness, library, str(tmp_path / "outputs.bin"), str(tmp_path / "entry.bin")], check=True)
        assert (tmp_path / "entry.bin").read_bytes() == core_bytes, f"batch {batch}: the entry differs from the core"
        assert sum(map(len, core)) > 0
