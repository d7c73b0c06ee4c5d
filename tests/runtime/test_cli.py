"""`mrcnn-edge run/bench` on bad input: one line on stderr, exit 2, no traceback."""
import subprocess
import sys

import pytest


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "mrcnn_edge.cli", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args, message", [
    (["run", "--model", "missing.onnx", "--source", "0"], "model not found"),
    (["bench", "--model", "missing.onnx"], "model not found"),
])
def test_bad_input_is_one_line(args, message):
    proc = _cli(*args)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"mrcnn-edge {args[0]}: error: ") and message in lines[0]


def test_engine_without_tensorrt(tmp_path):
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"\0")
    proc = _cli("run", "--model", str(engine), "--source", "0")
    assert proc.returncode == 2 and "TensorRT is not installed" in proc.stderr and "Traceback" not in proc.stderr


def test_help_lists_the_streaming_commands():
    out = _cli("--help").stdout
    assert all(cmd in out for cmd in ("run", "demo", "bench"))


def _one_line_error(proc, command="run"):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"mrcnn-edge {command}: error: ") and "Traceback" not in proc.stderr
    return lines[0]


def test_multistream_bad_input_is_one_line(tmp_path, small_video):
    video = small_video[0]
    dupes = tmp_path / "dupes.txt"
    dupes.write_text(f"front: {video}\nfront: {video}\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    model = tmp_path / "m.onnx"  # the streams are checked before the model is opened: no model needed
    cases = [
        (["--sources", str(tmp_path / "missing.txt")], "--sources file not found"),
        (["--sources", str(dupes)], "stream name 'front' is given to more than one source"),
        (["--sources", str(empty)], "lists no source"),
        (["--source", video, "--source", video, "--out", str(tmp_path / "o.mp4")], "pass --out-dir DIR"),
        (["--source", video, "--preview", "99999"], "--preview takes [HOST:]PORT"),
        (["--model", str(model)], "no source given"),
    ]
    for args, message in cases:
        full = args if "--model" in args else ["--model", str(model), *args]
        line = _one_line_error(_cli("run", *full))
        assert message in line, (args, line)


def test_a_stream_that_cannot_open_names_itself_and_closes_the_others(small_video, stand_in):
    import threading

    from mrcnn_edge.errors import UserError
    from mrcnn_edge.runtime.multistream import run_streams
    from mrcnn_edge.runtime.stream_list import stream_specs

    before = threading.active_count()
    with pytest.raises(UserError, match=r"^stream nonexistent: source not found: /nonexistent.mp4"):
        run_streams(stand_in, stream_specs([small_video[0], "/nonexistent.mp4"]), live_line=False)
    assert threading.active_count() <= before  # the first stream's capture thread was stopped


def test_help_loads_neither_cv2_nor_torch():
    """`mrcnn-edge --help` and a subcommand's --help read only the CLI's choices and defaults: the heavy
    libraries wait for the command that needs them."""
    import subprocess
    import sys

    code = ("import sys\nfrom mrcnn_edge.cli import main\n"
            "for argv in (['--help'], ['run', '--help'], ['build', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in ('cv2', 'torch', 'onnx', 'onnxruntime', 'openvino') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"
