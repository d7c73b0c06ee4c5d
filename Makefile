# The README's two commands: `make demo` (set up, then run the demo) and `make test` (set up, then every test).
# Set-up is idempotent: a fresh machine needs nothing but python3 (3.11), cmake and a C++ compiler.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
NVCC   ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/bin/nvcc 2>/dev/null)
# Where nvcc exists the CUDA kernels must compile: a silently skipped compile would hide breakage.
REQUIRE_CUDA := $(if $(NVCC),ON,OFF)
# The SASS check needs cuobjdump; this CUDA install lacks it, but torch's triton dependency ships one.
CUOBJDUMP ?= $(shell command -v cuobjdump 2>/dev/null || ls /usr/local/cuda/bin/cuobjdump $(VENV)/lib/python3*/site-packages/triton/backends/nvidia/bin/cuobjdump 2>/dev/null | head -n 1)
CMAKE_BUILD := build/cmake

.PHONY: setup demo test test-cpp test-py sysdeps clean

$(BIN)/.installed: setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch and torchvision come from this machine's disk (pip's constraints pin the releases there)
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q pybind11 setuptools wheel
	# the docs extra: tests/docs builds the documentation site strictly
	$(BIN)/pip install -q --no-build-isolation -e '.[test,docs]'
	# Triton's server binary (with its Python backend) for tests/serving. --no-deps: the wheel pins numpy<2 and
	# would downgrade ours; mrcnn-edge serve gives the backend its own numpy 1.26 environment instead.
	$(BIN)/pip install -q --no-deps nvidia-pytriton==0.7.0
	# TrackEval for `eval-track` (tests/eval/test_eval_track.py). --no-deps: its wheel requires opencv-python, which
	# shares the cv2 folder with our opencv-python-headless and would replace it; its metrics need numpy, scipy.
	$(BIN)/pip install -q --no-deps trackeval==1.3.0
	# TensorRT's Python API as stubs, for mypy (mypy.ini says why they go to build/, and what the sed repairs)
	$(BIN)/pip install -q --no-deps --target build/typestubs tensorrt-stubs==10.13.0.35.1
	sed -i -E 's/\b(self(: IPluginV3)?), in: /\1, in_: /; s/channel_axis: int\) -> IScaleLayer/channel_axis: int = ...) -> IScaleLayer/' \
	  build/typestubs/tensorrt_bindings/tensorrt.pyi
	touch $@

setup: $(BIN)/.installed

# ffmpeg serves the loopback video stream in the network-source test; shellcheck lints device_check.sh;
# headless Chromium (with its driver, for selenium) opens `run --preview` in the preview test
sysdeps:
	@command -v ffmpeg >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y ffmpeg >/dev/null; } || \
	  echo "ffmpeg not installed: the network-source test will be skipped"
	@command -v shellcheck >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  DEBIAN_FRONTEND=noninteractive apt-get -qq install -y shellcheck >/dev/null; } || \
	  echo "shellcheck not installed: the device_check.sh lint test will be skipped"
	@# GLib's key-file parser (Debian's python3-gi): the oracle for the DeepStream configs
	@/usr/bin/python3 -c "import gi" 2>/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y python3-gi gir1.2-glib-2.0 >/dev/null; } || \
	  echo "python3-gi not installed: the DeepStream config parse test will be skipped"
	@{ command -v chromium >/dev/null && command -v chromedriver >/dev/null; } || { command -v apt-get >/dev/null && \
	  [ "$$(id -u)" = 0 ] && apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y chromium chromium-driver >/dev/null; } || \
	  echo "chromium/chromium-driver not installed: the preview's browser test will be skipped"

demo: setup
	$(BIN)/mrcnn-edge demo

test-cpp: setup
	cmake -S . -B $(CMAKE_BUILD) -DCMAKE_BUILD_TYPE=Release -DMRCNN_EDGE_REQUIRE_CUDA=$(REQUIRE_CUDA) \
	  $(if $(NVCC),-DCMAKE_CUDA_COMPILER=$(NVCC)) $(if $(CUOBJDUMP),-DCUOBJDUMP=$(CUOBJDUMP)) \
	  -DMRCNN_EDGE_DUMP_PYTHON=$(abspath $(BIN))/python
	cmake --build $(CMAKE_BUILD) -j2
	ctest --test-dir $(CMAKE_BUILD) --output-on-failure

# Three workers on two cores: much of the suite is single-threaded Python (export, surgery, quantisation), and part
# of it waits (subprocesses, a server, an export another worker is making), which the third worker fills (measured,
# 2 cores: 537 s with two workers, 502 s with three). A file stays on one worker (its module fixtures are made once);
# the workers share the exports (tests/helpers/shared.py). Files go out in collection order, which
# tests/conftest.py makes heaviest first.
test-py: setup
	$(BIN)/python -m pytest -q -n 3 --dist loadfile --no-loadscope-reorder

test: setup sysdeps test-cpp test-py

clean:
	rm -rf $(VENV) build demo_out *.egg-info
