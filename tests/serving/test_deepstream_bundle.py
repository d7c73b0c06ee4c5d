"""`export-deepstream`: the float-input flavour equals the uint8 graph, every nvinfer key written is one nvinfer
documents with a value it accepts (nvinfer_keys.py, citing the docs and the element's parser), both configs
load in GLib's own key-file parser, and bad input gets one line."""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from mrcnn_edge.cli import main
from mrcnn_edge.data.synthetic import VAL, sample
from mrcnn_edge.serving.deepstream import APP_CONFIG, INFER_CONFIG, LABELS, export_deepstream
from mrcnn_edge.serving.nvinfer_keys import config_problems
from mrcnn_edge.export.float_input import write_float_input
from mrcnn_edge.letterbox import letterbox

from helpers import skip_or_fail


# GLib's own key-file parser is the oracle: deepstream-app and nvinfer read both files with
# g_key_file_load_from_file. The toolkit's venv has no PyGObject; Debian's python3-gi (the system python3)
# does, so the parse runs there: groups -> keys -> raw values as JSON, or GLib's message and exit 1.
_SCRIPT = """
import json, sys
import gi
gi.require_version("GLib", "2.0")
from gi.repository import GLib
k = GLib.KeyFile()
try:
    k.load_from_file(sys.argv[1], GLib.KeyFileFlags.NONE)
except GLib.Error as e:
    print(e.message, file=sys.stderr)
    sys.exit(1)
groups = k.get_groups()[0]
print(json.dumps({g: {key: k.get_value(g, key) for key in k.get_keys(g)[0]} for g in groups}))
"""
CANDIDATES = ("/usr/bin/python3", "python3")


def _interpreter():
    for candidate in CANDIDATES:
        path = shutil.which(candidate)
        if path and subprocess.run([path, "-c", "import gi; gi.require_version('GLib', '2.0')"],
                                   capture_output=True).returncode == 0:
            return path
    return None


def glib_parse(path) -> tuple[dict | None, str]:
    """(groups, "") when GLib loads path, else (None, GLib's message)."""
    python = _interpreter()
    if python is None:
        skip_or_fail("no python3 with PyGObject (Debian: apt-get install python3-gi gir1.2-glib-2.0)")
    done = subprocess.run([python, "-c", _SCRIPT, str(path)], capture_output=True, text=True)
    return (json.loads(done.stdout), "") if done.returncode == 0 else (None, done.stderr.strip())


def test_float_flavour_detects_what_the_uint8_graph_does(exported_model, tmp_path):
    import onnxruntime as ort

    size = (VAL.height, VAL.width)
    model = exported_model("shipped", size)
    flavour = write_float_input(model, str(tmp_path / "model.nvinfer.onnx"))
    assert json.load(open(tmp_path / "model.nvinfer.json"))["input"] == "float32 NCHW RGB, 0..255"
    uint8, float32 = (ort.InferenceSession(m, providers=["CPUExecutionProvider"]) for m in (model, flavour))
    assert float32.get_inputs()[0].type == "tensor(float)" and uint8.get_inputs()[0].type == "tensor(uint8)"
    for i in range(3):
        images = letterbox(sample(VAL, i)[0], size)[0]
        # what nvinfer feeds with net-scale-factor=1, offsets=0: the pixels as floats, NCHW RGB
        a, b = uint8.run(None, {"images": images}), float32.run(None, {"images": images.astype(np.float32)})
        assert a[0][0] > 0
        for name, x, y in zip(("num_detections", "boxes", "scores", "classes", "masks"), a, b):
            assert x.dtype == y.dtype and np.array_equal(x, y), f"frame {i}: {name} differ"


def _bundle(make_model, tmp_path, batch=1, model_batch="B", **kwargs):
    model = make_model(tmp_path / "model.trt.onnx", batch=model_batch, plugin_node=True, **kwargs)
    return export_deepstream(str(model), str(tmp_path / "ds"), batch=batch)


def test_every_nvinfer_key_is_documented_and_valid(make_model, tmp_path):
    result = _bundle(make_model, tmp_path, batch=3, precision="fp16")
    groups, error = glib_parse(result.config)
    assert groups is not None, error
    assert config_problems(groups) == []
    prop = groups["property"]
    assert (prop["network-type"], prop["output-instance-mask"], prop["cluster-mode"]) == ("3", "1", "4")
    assert prop["network-mode"] == "2" and prop["batch-size"] == "3" and prop["infer-dims"] == "3;64;96"
    assert prop["output-blob-names"].split(";") == ["num_detections", "boxes", "scores", "classes", "masks"]
    assert prop["parse-bbox-instance-mask-func-name"] == "NvDsInferParseCustomMrcnnEdge"
    assert (prop["net-scale-factor"], prop["offsets"], prop["model-color-format"]) == ("1.0", "0.0;0.0;0.0", "0")
    assert (prop["maintain-aspect-ratio"], prop["symmetric-padding"]) == ("1", "0")  # letterbox.py: top-left
    for key in ("onnx-file", "labelfile-path"):  # nvinfer resolves them against the config's folder
        assert os.path.isfile(os.path.join(result.directory, prop[key])), key
    assert open(os.path.join(result.directory, LABELS)).read().split() == ["circle", "square"]
    assert prop["num-detected-classes"] == "2"
    assert groups["class-attrs-all"]["pre-cluster-threshold"] == "0.05"  # the model's own (contract_model's sidecar)


@pytest.mark.parametrize("group, key, value", [
    ("property", "network-typ", "3"),  # a misspelt key
    ("property", "network-type", "4"), ("property", "cluster-mode", "5"), ("property", "batch-size", "0"),
    ("property", "batch-size", "1025"), ("property", "infer-dims", "3;512"), ("property", "output-instance-mask", "yes"),
    ("property", "offsets", "0;0;0;0;0"), ("property", "net-scale-factor", "1/255"), ("property", "network-mode", "2.0"),
    ("class-attrs-all", "pre-cluster-threshold", "1.5"), ("class-attr-all", "topk", "1")])  # a misspelt group
def test_the_key_table_refuses_what_nvinfer_refuses(group, key, value):
    """The table is our own oracle: each planted bad key or value must be named."""
    good = {"property": {"network-type": "3", "batch-size": "1"}, "class-attrs-all": {"topk": "20"}}
    assert config_problems(good) == []
    planted = {g: dict(v) for g, v in good.items()}
    planted.setdefault(group, {})[key] = value
    problems = config_problems(planted)
    assert len(problems) == 1 and (key in problems[0] or group in problems[0]), problems


def test_the_cli_writes_runs_threshold(make_model, tmp_path, capsys):
    model = make_model(tmp_path / "model.trt.onnx", plugin_node=True)
    assert main(["export-deepstream", "--model", str(model), "-o", str(tmp_path / "ds")]) == 0
    assert "LD_PRELOAD=libmrcnn_edge_plugins_autoreg.so deepstream-app -c" in capsys.readouterr().out
    groups, _ = glib_parse(tmp_path / "ds" / INFER_CONFIG)
    assert groups["class-attrs-all"]["pre-cluster-threshold"] == "0.5"  # `run`'s default, not the model's 0.05


def test_deepstream_app_config_parses_as_a_glib_key_file(make_model, tmp_path):
    result = _bundle(make_model, tmp_path, batch=3)
    groups, error = glib_parse(result.app_config)
    assert groups is not None, error
    assert [g for g in groups if g.startswith("source")] == ["source0", "source1", "source2"]
    assert groups["streammux"]["batch-size"] == "3" and groups["primary-gie"]["batch-size"] == "3"
    assert (groups["streammux"]["height"], groups["streammux"]["width"]) == ("64", "96")  # the model's size
    assert groups["primary-gie"]["config-file"] == INFER_CONFIG and os.path.isfile(result.config)
    assert groups["osd"]["display-mask"] == "1" and groups["sink0"]["type"] == "3"  # masks drawn, a file sink
    assert int(groups["tiled-display"]["rows"]) * int(groups["tiled-display"]["columns"]) >= 3


@pytest.mark.parametrize("text", ["key-before-any-group=1\n[application]\n", "[application]\nno equals sign\n",
                                  "[application\nenable=1\n"])
def test_glib_refuses_a_broken_key_file(tmp_path, text):
    """The oracle can fail: GLib refuses what deepstream-app would refuse."""
    path = tmp_path / APP_CONFIG
    path.write_text(text)
    groups, error = glib_parse(path)
    assert groups is None and error


def test_an_engine_built_from_the_float_flavour(tmp_path):
    engine = tmp_path / "model.fp16.engine"
    engine.write_bytes(b"opaque: copied, never parsed here")
    io = {"images": {"dtype": "float32", "shape": [-1, 3, 64, 96]}}
    meta = {"arch": "tiny", "classes": ["circle"], "input_size": [64, 96], "precision": "fp16", "detections": 5,
            "engine": {"plugin_library": "/opt/mrcnn/libmrcnn_edge_plugins.so", "batch": {"max": 4}, "io": io}}
    (tmp_path / "model.fp16.engine.json").write_text(json.dumps(meta))
    result = export_deepstream(str(engine), str(tmp_path / "ds"), batch=4)
    groups, _ = glib_parse(result.config)
    assert config_problems(groups) == [] and groups["property"]["model-engine-file"] == "model.fp16.engine"
    assert "onnx-file" not in groups["property"] and (tmp_path / "ds" / "model.fp16.engine").is_file()
    assert "LD_PRELOAD=/opt/mrcnn/libmrcnn_edge_plugins_autoreg.so" in open(tmp_path / "ds" / "README.txt").read()
    meta["engine"]["io"]["images"]["dtype"] = "uint8"  # what `mrcnn-edge build` makes from model.trt.onnx
    (tmp_path / "model.fp16.engine.json").write_text(json.dumps(meta))
    with pytest.raises(Exception, match="takes uint8 images, but nvinfer feeds float"):
        export_deepstream(str(engine), str(tmp_path / "ds2"))


def test_a_plain_model_onnx_gets_surgery_first(exported_model, tmp_path, capsys):
    """`--model model.onnx` writes model.trt.onnx beside it, as `build` does, and the same bundle as that file."""
    from mrcnn_edge.surgery.surgeon import surgeon

    exported = exported_model("shipped", (VAL.height, VAL.width)).removesuffix(".onnx")
    for folder in ("plain", "by_hand"):  # copies: the exported model is shared by the run's workers
        (tmp_path / folder).mkdir()
        for suffix in (".onnx", ".json"):
            shutil.copy(exported + suffix, tmp_path / folder / f"model{suffix}")
    assert main(["export-deepstream", "--model", str(tmp_path / "plain" / "model.onnx"), "-o",
                 str(tmp_path / "ds")]) == 0
    plugin_graph = tmp_path / "plain" / "model.trt.onnx"
    assert f"surgery wrote {plugin_graph}" in capsys.readouterr().out
    assert plugin_graph.is_file()
    wanted = export_deepstream(surgeon(str(tmp_path / "by_hand" / "model.onnx")).path, str(tmp_path / "ds_by_hand"),
                               score_threshold=0.5)  # the CLI's default, as `run`
    for name in (INFER_CONFIG, APP_CONFIG, LABELS):
        assert (tmp_path / "ds" / name).read_text() == open(os.path.join(wanted.directory, name)).read(), name


def _one_line(capsys, argv, expected):
    assert main(["export-deepstream", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and expected in err, err


def test_bad_input_gets_one_line(make_model, tmp_path, capsys):
    fixed = make_model(tmp_path / "fixed.trt.onnx", batch=1, plugin_node=True)
    plain = make_model(tmp_path / "plain.onnx")
    (tmp_path / "notes.onnx").write_text("not a model")
    (tmp_path / "notes.json").write_text(json.dumps(json.load(open(tmp_path / "plain.json"))))
    (tmp_path / "bf16.trt.onnx").write_bytes(fixed.read_bytes())
    (tmp_path / "bf16.trt.json").write_text(json.dumps({**json.load(open(tmp_path / "fixed.trt.json")),
                                                        "precision": "bf16"}))
    cases = [(["--model", str(tmp_path / "missing.trt.onnx")], "model not found"),
             (["--model", str(tmp_path / "notes.onnx")], "is not an ONNX model"),
             (["--model", str(tmp_path / "plain.json")], "pass an .onnx, .trt.onnx or .engine"),
             (["--model", str(fixed), "--batch", "0"], "--batch 0: pass 1..1024"),
             (["--model", str(fixed), "--batch", "2"], "re-export it with `mrcnn-edge export --dynamic-batch`"),
             (["--model", str(plain)], "export the model with `mrcnn-edge export`"),  # no regions for surgery
             (["--model", str(tmp_path / "bf16.trt.onnx")], "no network-mode for it"),
             (["--model", str(tmp_path / "model.engine")], "model not found"),
             (["--model", str(fixed), "--score-threshold", "1.5"], "pass a score in 0..1")]
    for argv, expected in cases:
        _one_line(capsys, argv + ["-o", str(tmp_path / "ds")], expected)
    assert not (tmp_path / "ds").exists(), "nothing written on bad input"
