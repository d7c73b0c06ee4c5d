"""`mrcnn-edge build` is the whole chain. On this machine (no TensorRT): the shipped model from an empty
folder at fp16 and int8 (calibrating inline), a user's checkpoint through --weights, up-to-date steps
skipped, `check` run on the graph TensorRT would get, and the chain's last step, the CPU model of the
precision asked for (CPU_ARTIFACTS), with one line saying so."""
import dataclasses
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import onnx
import pytest
import torch

from mrcnn_edge.data.synthetic import CALIB, sample
from mrcnn_edge.chain import CPU_ARTIFACTS, build_chain, build_cpu_artifact, up_to_date
from mrcnn_edge.engine.metadata import import_tensorrt
from mrcnn_edge.errors import UserError
from mrcnn_edge.names import BUILD_PRECISIONS
from mrcnn_edge.precision.int8 import TARGETS

pytestmark = pytest.mark.skipif(import_tensorrt() is not None, reason="TensorRT is installed: builds engines")


def _build(cwd, *args):
    proc = subprocess.run([sys.executable, "-m", "mrcnn_edge.cli", "build", *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return proc.stdout.splitlines()


def test_the_shipped_model_from_an_empty_folder(tmp_path):
    first, checked, wrote = _build(tmp_path, "--precision", "fp16")
    d = tmp_path / "shapes_light_build"  # one folder of its own, not eight files in the working directory
    assert first.startswith(f"TensorRT not found: built the CPU fp32 model {d}/shapes_light.fp32.onnx "
                            "instead (fp16 measured slower than fp32 on CPUs")
    assert checked == f"checked {d}/shapes_light.fp16.trt.onnx: passes TensorRT's rules"
    made = ["shapes_light.onnx", "shapes_light.json", "shapes_light.trt.onnx", "shapes_light.fp16.trt.onnx",
            "shapes_light.fp32.onnx", "shapes_light.fp32.json"]
    assert all(f"{d}/{name}" in wrote for name in made) and os.listdir(tmp_path) == [d.name]
    assert sorted(os.listdir(d)) == sorted(made + ["shapes_light.trt.json", "shapes_light.fp16.trt.json"])

    # its export, given as --model, is still the shipped model (the sidecar's checkpoint hash): int8
    # calibrates inline on the synthetic set, asking for no --calib-source
    lines = _build(tmp_path, "--model", str(d / "shapes_light.onnx"), "--precision", "int8", "--calib-images", "2")
    assert lines[0].startswith(f"TensorRT not found: built the CPU int8 model {d}/shapes_light.int8.onnx")
    assert f"{d}/shapes_light.calib.entropy.json" in lines[2] and "shapes_light.int8.trt.onnx" in lines[2]
    assert lines[3].startswith("up to date: ") and f"{d}/shapes_light.trt.onnx" in lines[3]

    again = _build(tmp_path, "--precision", "fp16")
    assert again[2] == "wrote nothing (every artifact up to date)"


def test_a_copy_of_the_shipped_export_is_recognised_and_a_users_is_not(tmp_path):
    from mrcnn_edge.chain import _source
    from mrcnn_edge.files import sha256_of
    from mrcnn_edge.model.zoo import SHIPPED

    for task, calibration in (("masks", "synthetic"), ("keypoints", "figures"), ("neither", None)):
        model = tmp_path / f"{task}.onnx"
        model.write_bytes(b"")
        sha = sha256_of(SHIPPED[task]) if task in SHIPPED else "0" * 64
        sidecar = {"arch": "a", "classes": ["c"], "input_size": [8, 8], "precision": "fp32", "detections": 1,
                   "checkpoint_sha256": sha}
        (tmp_path / f"{task}.json").write_text(json.dumps(sidecar))
        assert _source(None, str(model), None)[3] == calibration


def _light_checkpoint(path):
    from mrcnn_edge.model.architectures import LIGHT_ARCH, build_model
    from mrcnn_edge.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    save_checkpoint(str(path), build_model(LIGHT_ARCH, num_classes=3), arch=LIGHT_ARCH, classes=["a", "b"])
    return str(path)


def test_a_users_checkpoint_through_weights(tmp_path, monkeypatch):
    weights = _light_checkpoint(tmp_path / "mine.pth")
    out = tmp_path / "out"
    with pytest.raises(UserError, match="pass --calib-source DIR\\|video"):  # before any slow step
        build_chain("int8", weights=weights, size=(320, 320), out_dir=str(out), progress=False)
    assert not out.exists() or not os.listdir(out)
    images = tmp_path / "calib"
    images.mkdir()
    for i in range(2):
        cv2.imwrite(str(images / f"{i}.png"), sample(CALIB, i)[0][:, :, ::-1])
    # QuantizeBias back on: the graph TensorRT would get breaks its rules, and build stops, with or without it
    monkeypatch.setitem(TARGETS["tensorrt"]["extra_options"], "QuantizeBias", True)
    with pytest.raises(UserError, match=r"mine.int8.trt.onnx breaks \d+ of TensorRT 10.3's rules, first: .*qdq-input-type"):
        build_chain("int8", weights=weights, size=(320, 320), out_dir=str(out), calib_source=str(images),
                    calib_images=2, progress=False)
    monkeypatch.undo()
    result = build_chain("int8", weights=weights, size=(320, 320), out_dir=str(out), calib_source=str(images),
                         calib_images=2, progress=False)  # the failing graph is remade, not reused
    assert (result.build.backend, result.build.precision) == ("cpu", "int8")
    assert result.build.path == str(out / "mine.int8.onnx") and result.tensorrt_graph == str(out / "mine.int8.trt.onnx")
    assert str(out / "mine.int8.trt.onnx") in result.written and str(out / "mine.onnx") in result.reused


def test_bad_arguments_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="not both"):
        build_chain("fp16", weights="a.pth", model="a.onnx")
    with pytest.raises(UserError, match="unknown precision 'fp8'"):
        build_chain("fp8")
    with pytest.raises(UserError, match="checkpoint not found"):
        build_chain("fp16", weights=str(tmp_path / "none.pth"))


def test_up_to_date(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("in")
    assert not up_to_date(str(b), [str(a)])
    b.write_text("out")
    os.utime(a, (1, 1))
    assert up_to_date(str(b), [str(a)])
    os.utime(a, None)
    os.utime(b, (1, 1))
    assert not up_to_date(str(b), [str(a)])


def test_another_checkpoint_of_the_same_name_is_exported_again(exported_model, tmp_path, monkeypatch):
    """Every detectron2 run writes a model_final.pkl: a second run's, older than the first one's export in the
    same build folder, is still exported again (the sidecar's checkpoint hash differs); the same one is not."""
    import shutil

    from mrcnn_edge.chain import _export, _Steps
    from mrcnn_edge.model.zoo import SHIPPED_CHECKPOINT

    out = tmp_path / "build" / "shapes_light.onnx"
    out.parent.mkdir()
    source = exported_model("shipped", (320, 448))  # the shipped checkpoint's export: its sidecar has its hash
    shutil.copyfile(source, out)
    shutil.copyfile(source[:-5] + ".json", out.parent / "shapes_light.json")
    same = shutil.copyfile(SHIPPED_CHECKPOINT, tmp_path / "shapes_light.pth")
    (tmp_path / "other").mkdir()
    other = _light_checkpoint(tmp_path / "other" / "shapes_light.pth")
    exported = []
    monkeypatch.setattr("mrcnn_edge.export.onnx_export.export_onnx", lambda w, o, *a, **k: exported.append(w))
    for weights in (same, other):
        os.utime(weights, (1, 1))  # older than the export
        _export(str(weights), str(out), None, None, 1, _Steps(["export"], progress=False))
    assert exported == [other]


def test_a_missing_checkpoint_beside_its_old_export_is_one_line(exported_model, tmp_path, capsys):
    """`build --weights` of a missing file or a folder, where an export of that name is already built: the
    loader's line last (after the progress bar) and exit 2, not a reuse of the old export; the export stays."""
    import shutil

    from mrcnn_edge.cli import main

    source = exported_model("shipped", (320, 448))
    (tmp_path / "gone_build").mkdir()
    shutil.copyfile(source, tmp_path / "gone_build" / "gone.onnx")
    shutil.copyfile(source[:-5] + ".json", tmp_path / "gone_build" / "gone.json")
    folder = tmp_path / "gone"  # an empty folder where the checkpoint should be
    folder.mkdir()
    for weights in (tmp_path / "gone.pth", folder):
        assert main(["build", "--weights", str(weights), "--out-dir", str(tmp_path / "gone_build")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert f"checkpoint not found: {weights}" in err[-1] and "Traceback" not in "".join(err), err  # after a bar
    assert os.path.isfile(tmp_path / "gone_build" / "gone.onnx")


def _runs(path):
    """The built model loads in the ONNX Runtime backend and keeps the contract."""
    from mrcnn_edge.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend

    out = OnnxRuntimeBackend(str(path), threads=1).infer(np.full((1, 3, 64, 96), 128, np.uint8))
    assert out["masks"].shape == (1, 5, 28, 28) and out["num_detections"].dtype == np.int32
    return out


def test_every_precision_has_one_cpu_artifact():
    assert tuple(CPU_ARTIFACTS) == BUILD_PRECISIONS
    assert {a.precision for a in CPU_ARTIFACTS.values()} <= set(BUILD_PRECISIONS)


def test_fp32_builds_the_onnxruntime_model(model_onnx):
    result = build_cpu_artifact(str(model_onnx), "fp32", str(model_onnx.parent), None)
    assert result.backend == "cpu" and result.precision == result.requested == "fp32"
    assert result.path == str(model_onnx.parent / "model.fp32.onnx")
    assert json.load(open(result.metadata))["precision"] == "fp32"
    assert "\n" not in result.summary() and result.summary().startswith("TensorRT not found: built the CPU")
    _runs(result.path)


def test_fp16_falls_back_to_fp32_and_says_why(model_onnx, tmp_path):
    (tmp_path / "out").mkdir()
    result = build_cpu_artifact(str(model_onnx), "fp16", str(tmp_path / "out"), None)
    assert (result.precision, result.requested) == ("fp32", "fp16")
    assert result.path == str(tmp_path / "out" / "model.fp32.onnx")
    assert "fp16 measured slower than fp32 on CPUs" in result.summary() and "\n" not in result.summary()
    _runs(result.path)


def test_bf16_builds_the_openvino_artifact(model_onnx, tmp_path):
    """bf16 is a CPU precision: the fp32 graph under a sidecar saying bf16, which OpenVINO runs in bf16."""
    (tmp_path / "out").mkdir()
    result = build_cpu_artifact(str(model_onnx), "bf16", str(tmp_path / "out"), None)
    assert (result.backend, result.precision, result.requested) == ("cpu", "bf16", "bf16")
    assert result.path == str(tmp_path / "out" / "model.bf16.onnx") and "OpenVINO in bf16" in result.summary()
    assert json.load(open(tmp_path / "out" / "model.bf16.json"))["precision"] == "bf16"
    assert onnx.load(result.path).graph == onnx.load(str(model_onnx)).graph  # the graph itself is unchanged


def test_int8_quantises_with_the_calibration_cache(model_onnx):
    from mrcnn_edge.precision.calibrate import calibrate

    cache = calibrate(str(model_onnx), "synthetic", method="minmax", num_images=2).cache
    result = build_cpu_artifact(str(model_onnx), "int8", str(model_onnx.parent), cache)
    assert result.precision == "int8" and result.path.endswith("model.int8.onnx")
    assert json.load(open(result.metadata))["precision"] == "int8"
    assert any(n.op_type == "DequantizeLinear" for n in onnx.load(result.path).graph.node)
    _runs(result.path)


@pytest.mark.parametrize("name, precision, plugin", [("model.trt.onnx", "fp32", True),
                                                      ("model.fp16.onnx", "fp16", False)])
def test_without_tensorrt_only_the_fp32_export_is_a_source(tmp_path, make_model, name, precision, plugin):
    model = make_model(tmp_path / name, precision=precision, plugin_node=plugin)
    with pytest.raises(UserError, match=f"starts from a checkpoint or the fp32 export model.onnx, not {name}"):
        build_chain("fp32", model=str(model), progress=False)


@pytest.mark.parametrize("tensorrt", [True, False])
def test_the_last_step_is_reused_while_up_to_date(model_onnx, monkeypatch, tensorrt):
    """The chain's one bookkeeping (`_Steps.run`) skips the engine, or the CPU model, while it and its
    metadata are newer than what they are made from (a reused one reads as built, in 0 s), and makes it again
    once the source changes."""
    import time
    import types

    from mrcnn_edge.chain import _engine, _Steps
    from mrcnn_edge.engine.result import BuildResult

    def build_engine(graph, precision, out_dir, **options):  # a fake TensorRT builder: the engine and its record
        result = BuildResult.of_engine(os.path.join(out_dir, "model.fp16.engine"), precision, 1.0)
        for path in (result.path, result.metadata):
            open(path, "w").write("{}")
        return result

    builder = types.ModuleType("mrcnn_edge.engine.tensorrt_build")
    builder.build_engine = build_engine
    monkeypatch.setitem(sys.modules, "mrcnn_edge.engine.tensorrt_build", builder)
    runs = []
    for touch in (False, False, True):
        if touch:  # the source changed since: made again
            later = time.time() + 10
            os.utime(model_onnx, (later, later))
        steps = _Steps(["engine"], progress=False)
        result = _engine(str(model_onnx), str(model_onnx), "fp16", str(model_onnx.parent), None, tensorrt, steps, {})
        runs.append((result, steps.written, steps.reused))
    (first, wrote, kept), (second, wrote2, kept2), (third, wrote3, kept3) = runs
    assert (first.backend, first.precision, first.requested) == (("tensorrt", "fp16", "fp16") if tensorrt else
                                                                 ("cpu", "fp32", "fp16"))
    assert wrote == wrote3 == [first.path, first.metadata] and kept == kept3 == []
    assert wrote2 == [] and kept2 == [first.path] and second == dataclasses.replace(first, seconds=0.0)
    assert third.path == first.path and third.seconds > 0
