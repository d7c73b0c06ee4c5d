"""model.trt.onnx with its plugin nodes on the CUDA kernels themselves (`--plugin-impl kernels`: the kernel
sources executed on the CPU by plugins/cpu_exec) against the same graph on the plugins' CPU references: the
outputs must be bit-identical, for the fp32 and the fp16 plugin graph (the fp16 one runs the kernel's __half
path). The references are held to torchvision and ONNX Runtime elsewhere (tests/plugins, test_surgery.py)."""
import numpy as np
import pytest

from mrcnn_edge.cli import main
from mrcnn_edge.data.synthetic import VAL, sample
from mrcnn_edge.runtime.preprocess import letterbox
from mrcnn_edge.surgery.cpu_runner import PluginGraphRunner

FRAMES = 3


@pytest.fixture(scope="module")
def fp16_plugin_graph(surgeried_model, tmp_path_factory):
    from mrcnn_edge.precision.fp16 import to_fp16

    out = str(tmp_path_factory.mktemp("fp16") / "model.fp16.trt.onnx")
    return to_fp16(surgeried_model("shipped", (512, 512)).path, out).path


def _assert_runs_equal(path, size):
    reference, kernels = PluginGraphRunner(path), PluginGraphRunner(path, plugin_impl="kernels")
    detections = 0
    for i in range(FRAMES):
        images, _ = letterbox(sample(VAL, i)[0], size)
        want, got = reference.run({"images": images}), kernels.run({"images": images})
        for name in want:
            assert want[name].dtype == got[name].dtype and np.array_equal(want[name], got[name]), (name, i)
        detections += int(want["num_detections"][0])
    assert detections >= FRAMES  # the frames hold objects: the comparison covers real detections


@pytest.mark.parametrize("arch,size", [("shipped", (512, 512)), ("maskrcnn_resnet50_fpn", (320, 416))])
def test_kernels_equal_the_references_in_the_model(surgeried_model, arch, size):
    _assert_runs_equal(surgeried_model(arch, size).path, size)


def test_kernels_equal_the_references_in_the_fp16_plugin_graph(fp16_plugin_graph):
    _assert_runs_equal(fp16_plugin_graph, (512, 512))


def test_predictor_names_the_implementation(surgeried_model):
    from mrcnn_edge.runtime import Predictor

    path = surgeried_model("shipped", (512, 512)).path
    assert Predictor.from_path(path).backend_name == "onnxruntime+plugin-reference"
    assert Predictor.from_path(path, plugin_impl="kernels").backend_name == "onnxruntime+plugin-kernels"


def test_plugin_impl_on_a_graph_without_plugins_is_one_line(exported_model, capsys):
    path = exported_model("shipped", (512, 512))
    assert main(["run", "--model", path, "--source", "nothing.mp4", "--plugin-impl", "kernels"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has none" in err[0] and "surgery" in err[0]
    assert main(["eval", "--model", path, "--plugin-impl", "kernels", "--num-images", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no --model has any" in err[0]


def test_a_truncated_model_is_one_line(surgeried_model, tmp_path, capsys):
    whole = open(surgeried_model("shipped", (512, 512)).path, "rb").read()
    truncated = tmp_path / "model.trt.onnx"
    truncated.write_bytes(whole[: len(whole) // 3])
    for argv in (["run", "--model", str(truncated), "--source", str(tmp_path), "--plugin-impl", "kernels"],
                 ["eval", "--model", str(truncated), "--plugin-impl", "kernels", "--num-images", "1"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "is not an ONNX model" in err[0], err
