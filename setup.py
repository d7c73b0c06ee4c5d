"""mrcnn-edge: deploy torchvision Mask R-CNN to TensorRT and ONNX Runtime."""
import glob
import os

from setuptools import find_packages, setup

try:
    from pybind11.setup_helpers import Pybind11Extension, build_ext
except ImportError:  # metadata-only calls (e.g. `setup.py --version`) need no compiler
    Pybind11Extension, build_ext = None, None

here = os.path.dirname(os.path.abspath(__file__))


def _version():
    ns = {}
    with open(os.path.join(here, "mrcnn_edge", "_version.py")) as f:
        exec(f.read(), ns)
    return ns["__version__"]


def _plugin_reference_extension():
    """The plugins reachable from Python (tests and CPU execution of model.trt.onnx): their CPU references,
    and the CUDA kernels themselves on the CPU execution layer (plugins/cpu_exec)."""
    sources = (["plugins/python/bindings.cpp"] + sorted(glob.glob("plugins/*/*_reference.cpp"))
               + sorted(glob.glob("plugins/cpu_exec/src/*.cpp")) + sorted(glob.glob("plugins/cpu_exec/kernels/*_kernel.cpp")))
    return Pybind11Extension(
        "mrcnn_edge._plugin_ref",
        sources=sources,
        include_dirs=["plugins", "plugins/common", "plugins/cpu_exec/include"],
        cxx_std=17,
        # no FMA contraction: the kernels and the references agree bit for bit, as in ctest kernels_on_cpu
        extra_compile_args=["-O3", "-ffp-contract=off"],
    )


ext_modules = []
if Pybind11Extension is not None and os.path.exists(os.path.join(here, "plugins/python/bindings.cpp")):
    ext_modules.append(_plugin_reference_extension())

setup(
    name="mrcnn-edge",
    version=_version(),
    description="Real-time Mask R-CNN on Jetson and data-center GPUs (TensorRT) and CPUs (OpenVINO, ONNX Runtime)",
    packages=find_packages(include=["mrcnn_edge", "mrcnn_edge.*"]),
    package_data={"mrcnn_edge": ["weights/*.pth", "weights/*.json"]},
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.4",
        "torchvision>=0.19",
        "numpy",
        "onnx>=1.17",
        "onnxruntime>=1.20",
        "openvino>=2025.0",  # the faster CPU backend (benchmarks/results/cpu_backends.md); tested with 2026.4
        "onnxscript",
        "onnx-graphsurgeon",
        "onnxconverter-common",
        "pycocotools",
        "safetensors",  # .safetensors checkpoints
        "pillow",  # image decoding with EXIF orientation, CMYK, palette and 16-bit modes
        "opencv-python-headless",
        "tqdm",
        "matplotlib",
    ],
    extras_require={
        # tritonclient: the Triton client (tests/serving, `run --model triton://`). Not [all]: that adds
        # cuda-python, unpinned, which would replace the CUDA bindings torch installs, and perf_analyzer.
        # scikit-image: real sample photos (image kinds, the detectron2 oracle's frames).
        # selenium: drives headless Chromium (Debian's chromium + chromium-driver) in the `run --preview` test.
        # mypy: the type check of the TensorRT glue and the backend interface (tests/engine/test_types.py).
        # pytest-xdist and filelock: `make test` runs two workers that share their exports (tests/helpers/shared.py).
        # tensorboard: `train --tensorboard` writes its event files (tests/train/test_train_coco.py reads them back).
        # supervision: `run --track`'s ByteTrack (tests/runtime/test_tracking.py).
        "test": ["pytest", "scikit-image", "faster-coco-eval", "tritonclient[grpc,http]>=2.50", "selenium>=4.10",
                 "mypy==2.4.1", "pytest-xdist>=3.6", "filelock", "tensorboard", "supervision>=0.30,<0.31"],
        # the documentation site (mkdocs.yml): `make test` builds it strictly (tests/docs/test_docs.py), so a broken
        # link, a page left out of the nav or an API object that moved fails CI. Tested with mkdocs 1.6.1,
        # mkdocs-material 9.8.2, mkdocstrings 1.0.8, mkdocstrings-python 2.0.11.
        "docs": ["mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26", "mkdocstrings-python>=1.10"],
        "eval": ["faster-coco-eval"],  # faster COCO AP (same numbers as pycocotools, which stays the fallback)
        "triton": ["tritonclient[grpc,http]>=2.50"],
        # `run --track`: supervision's ByteTrack (MIT), removed in 0.31 (it moved to the `trackers` package, whose
        # wheel requires opencv-python). `eval-track` also needs TrackEval, installed with --no-deps (Makefile):
        # its wheel requires opencv-python too, which would overwrite opencv-python-headless's cv2.
        "track": ["supervision>=0.30,<0.31"],
        # the TensorRT backend's device memory (JetPack 6 ships CUDA 12; TensorRT itself comes from the system);
        # 12.6.0 has no cuda.bindings, which cuda.py imports
        "tensorrt": ["cuda-python>=12.6.1,<13"],
        # benchmarks/nncf_int8.py: Intel's quantizer, measured against ours (not used by the toolkit yet)
        "nncf": ["nncf==3.4.0"],
    },
    ext_modules=ext_modules,
    cmdclass={"build_ext": build_ext} if build_ext else {},
    entry_points={"console_scripts": ["mrcnn-edge=mrcnn_edge.cli:main"]},
)
