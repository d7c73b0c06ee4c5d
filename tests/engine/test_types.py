"""mypy, as mypy.ini configures it: the TensorRT glue against TensorRT's own Python API (its stubs, which
`make setup` installs; TensorRT itself cannot be installed here), and every backend against the Backend
protocol where Predictor is made. The command and its scope are mypy.ini's."""
import os
import subprocess
import sys

from helpers import skip_or_fail

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGETS = ["mrcnn_edge/engine", "mrcnn_edge/chain.py", "mrcnn_edge/serving", "mrcnn_edge/runtime/backends",
           "mrcnn_edge/runtime/predictor.py"]


def test_mypy_passes():
    try:
        import mypy  # noqa: F401
    except ImportError:
        skip_or_fail("mypy is not installed (pip install -e '.[test]')")
    if not os.path.isdir(os.path.join(ROOT, "build", "typestubs", "tensorrt_bindings")):
        skip_or_fail("TensorRT's stubs are not in build/typestubs (`make setup` installs them)")
    proc = subprocess.run([sys.executable, "-m", "mypy", *TARGETS], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    with open(os.path.join(ROOT, "mypy.ini")) as f:
        assert " ".join(["mypy", *TARGETS]) in f.read()  # the scope mypy.ini states is the one checked
