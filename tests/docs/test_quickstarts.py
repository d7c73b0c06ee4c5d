"""The README's quick starts, run as written: each line of the chosen blocks goes to bash, unchanged, in a folder
that holds the files a user brings (a checkpoint, a video, a labelled set), made here. A line marked as needing a
GPU, TensorRT, a camera or DeepStream is skipped (test_docs.py checks that such lines carry the mark).

Which blocks, and why the others are not here:
- "Your checkpoint": its detectron2 line (R50 at 800x1344, int8) takes minutes on two cores, so it is left out; its
  chain is tested on a smaller size in tests/detectron2_oracle/test_pipeline.py.
- "Your cameras": every line but the export needs a camera.
- Serving with Triton: `serve` runs until Ctrl-C in its own shell; tests/serving/test_triton_server.py runs the
  real server.
- The demo: `make demo` runs it, and tests/runtime/test_demo.py runs its code on fewer frames.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_docs import NEEDS, REPO, fenced_blocks, logical_lines

# A block is chosen by a command it holds; lines holding a LEFT_OUT text are not run (the module says why).
BLOCKS = {"checkpoint": "build --weights my_model.pth", "data set": "train --data train.json",
          "tracking": "eval-track", "deepstream": "export-deepstream"}
LEFT_OUT = ("model_final_f10217.pkl",)


def _block(command: str) -> list[str]:
    blocks = [b for b in fenced_blocks((REPO / "README.md").read_text(), "README.md")
              if b.lang == "bash" and command in b.text]
    assert len(blocks) == 1, f"README.md: {len(blocks)} bash blocks hold `{command}`"
    return [line.strip() for _, line in logical_lines(blocks[0].text)
            if line.strip() and not line.strip().startswith("#")]


def _runnable(lines: list[str]) -> list[str]:
    return [line for line in lines if not NEEDS.search(line) and not any(text in line for text in LEFT_OUT)]


def _bring_user_files(folder: Path) -> None:
    """What the quick starts name as the user's own: a checkpoint, a video with its ground truth, a labelled set."""
    from mrcnn_edge.data.hardware import write_hardware_coco
    from mrcnn_edge.data.video_truth import make_truth_video
    from mrcnn_edge.model.zoo import SHIPPED_CHECKPOINT

    shutil.copy(SHIPPED_CHECKPOINT, folder / "my_model.pth")
    shutil.copy(make_truth_video(str(folder / "SEQ"), "crossing", num_frames=24), folder / "video.mp4")
    for split, count, seed in (("train", 4, 1), ("val", 2, 2)):
        write_hardware_coco(str(folder / f"{split}_set"), count, seed=seed, sizes=((256, 256),))
        (folder / f"{split}_set" / "instances.json").rename(folder / f"{split}.json")
        (folder / f"{split}_set" / "images").rename(folder / split)


def _run(line: str, folder: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MPLBACKEND", None)
    done = subprocess.run(["bash", "-c", line], cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"README line failed ({done.returncode}): {line}\n{done.stderr[-2000:]}"


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quickstarts")
    _bring_user_files(folder)
    # the data-set block trains from the checkout's shipped file, as a user in a clone does
    (folder / "mrcnn_edge" / "weights").mkdir(parents=True)
    shutil.copy(REPO / "mrcnn_edge" / "weights" / "shapes_light.pth", folder / "mrcnn_edge" / "weights")
    return folder


@pytest.mark.parametrize("name", list(BLOCKS))
def test_quick_start_runs_as_written(name, user_folder):
    lines = _block(BLOCKS[name])
    runnable = _runnable(lines)
    assert runnable, f"{name}: no line runs on a CPU"
    for line in runnable:
        _run(line, user_folder)
    if name == "data set":
        assert (user_folder / "runs/mine/build/best.int8.onnx").is_file()
    if name == "tracking":
        assert re.search(r"^\d", (user_folder / "tracks.txt").read_text(), re.M), "no MOT rows written"


def test_the_choice_of_lines_is_what_the_module_says():
    """A planted unmarked camera line is run, a marked one is not; the detectron2 line is the one left out."""
    assert _runnable(["mrcnn-edge run --source 0", "mrcnn-edge run --source 0   # needs a camera"]) == [
        "mrcnn-edge run --source 0"]
    checkpoint = _block(BLOCKS["checkpoint"])
    assert [line for line in checkpoint if line not in _runnable(checkpoint)] == [
        next(line for line in checkpoint if "model_final_f10217.pkl" in line),
        next(line for line in checkpoint if ".engine" in line)]
