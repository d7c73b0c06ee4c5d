"""benchmarks/device_check.sh and device_eager.py, as far as a machine without a GPU can run them."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import unless_installed

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "device_check.sh"


def _has_gpu() -> bool:
    smi = shutil.which("nvidia-smi")
    return bool(smi) and bool(subprocess.run([smi, "-L"], capture_output=True, text=True).stdout.strip())


def test_eager_timing_runs_on_the_cpu(tmp_path):
    kernels = {"device": "test GPU (sm_90)", "cases": [
        {"kernel": "BatchedNMS", "case": "N=4000", "max_abs_error": 0.0, "tolerance": 0.0, "mismatches": 0,
         "passed": True, "median_ms": 0.5, "min_ms": 0.4}]}
    (tmp_path / "kernels.json").write_text(json.dumps(kernels))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "device_eager.py"), "--device", "cpu",
                    "--sizes", "128x160", "--precisions", "fp32", "--warmup", "0", "--iterations", "1",
                    "--threads", "1", "--out", str(tmp_path), "--kernels", str(tmp_path / "kernels.json")],
                   check=True, env=env, capture_output=True, text=True, timeout=300)
    report = json.loads((tmp_path / "device_check.json").read_text())
    (row,) = report["eager"]
    assert row["size"] == "128x160" and row["precision"] == "fp32" and row["median_ms"] > 0
    assert row["detections"] == 100  # box_score_thresh=0: the full K, the mask head's worst case
    assert report["kernels"] == kernels
    md = (tmp_path / "device_check.md").read_text()
    assert "| 128x160 | fp32 |" in md and "| BatchedNMS | N=4000 | 0 | 0 | 0 | 0.5000 | 0.4000 |" in md


@pytest.mark.skipif(_has_gpu(), reason="a GPU is present: device_check.sh would run in full")
def test_script_without_gpu_says_so_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_ARCH"}
    result = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "out")], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 77, result.stdout + result.stderr
    assert result.stdout.count("\n") == 1 and "no NVIDIA GPU found" in result.stdout and not result.stderr
    assert not (tmp_path / "out").exists()  # nothing built, nothing written


@unless_installed(shutil.which("shellcheck") is not None, reason="shellcheck not installed")
def test_script_is_shellcheck_clean():
    result = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
