#!/usr/bin/env bash
# The GPU proof in one command, for a machine with one NVIDIA GPU, CUDA 13 and PyTorch but no
# TensorRT and no network. Installs nothing; uses this machine's python3 (torch + torchvision, any
# recent release), cmake and nvcc, with the repository on PYTHONPATH. About 2-3 minutes.
#
#   benchmarks/device_check.sh [OUT_DIR]        # default: $OUT if set, else ./device_check_out
#
# 1. builds the kernels and kernel_device_test for this GPU (its compute capability from nvidia-smi)
# 2. runs kernel_device_test: both kernels against the CPU references, timed with CUDA events
# 3. times torchvision's eager Mask R-CNN (R50-FPN, 800x800 and 800x1344, fp32 and fp16 autocast,
#    100 detections) on the GPU: benchmarks/device_eager.py
# Writes OUT_DIR/device_check.json and OUT_DIR/device_check.md (plus kernels.json, the logs).
#
# Exit: 0 all passed; 1 a kernel mismatch, a failed step or past the 290 s budget; 77 no GPU
# (one line, nothing run).
# Without a GPU, CUDA_ARCH=90 (say) still configures and builds for that architecture, then exits 77.
# Environment: NVCC (default: nvcc on PATH, else /usr/local/cuda/bin/nvcc), PYTHON (python3),
# BUILD_DIR (default: ${TMPDIR:-/tmp}/mrcnn_edge_device_check, kept out of OUT_DIR).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out_dir="${1:-${OUT:-./device_check_out}}"
build_dir="${BUILD_DIR:-${TMPDIR:-/tmp}/mrcnn_edge_device_check}"
python="${PYTHON:-python3}"
nvcc="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
jobs="$(nproc 2>/dev/null || echo 4)"

say() { echo "device_check: $*"; }
fail() { say "$*" >&2; exit 1; }

# The GPU and its architecture: compute_cap "9.0" -> "90".
arch="${CUDA_ARCH:-}"
gpu=""
if command -v nvidia-smi >/dev/null 2>&1; then
  gpu="$(nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader 2>/dev/null | head -n 1 || true)"
fi
if [[ -z "$gpu" && -z "$arch" ]]; then
  say "no NVIDIA GPU found (nvidia-smi lists none): nothing checked (CUDA_ARCH=90 $0 builds anyway)"
  exit 77
fi
if [[ -n "$gpu" && -z "$arch" ]]; then
  arch="$(echo "${gpu##*,}" | tr -d ' .')"
  [[ "$arch" =~ ^[0-9]+$ ]] || arch=native
fi

command -v cmake >/dev/null || fail "cmake not found"
[[ -x "$nvcc" ]] || fail "nvcc not found (set NVCC=/path/to/nvcc)"
if [[ -n "$gpu" ]]; then
  "$python" -c "import torch, torchvision" 2>/dev/null || fail "$python cannot import torch and torchvision"
fi
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
rm -f "$out_dir"/{kernels.json,kernels.txt,device_check.json,device_check.md} # no stale results
say "GPU: ${gpu:-none}; building for sm_$arch with nvcc $("$nvcc" --version | grep -o 'release [0-9.]*' || true)"

# Every step gets what is left of a 290 s budget, so the whole check ends within 5 minutes.
started=$SECONDS
left() { local s=$((290 - (SECONDS - started))); echo $((s > 1 ? s : 1)); } # timeout 0 would mean none
timeout "$(left)" cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$nvcc" \
  -DCMAKE_CUDA_ARCHITECTURES="$arch" -DMRCNN_EDGE_REQUIRE_CUDA=OFF >"$out_dir/build.log" 2>&1 \
  || fail "cmake configure failed or ran out of time: see $out_dir/build.log"
timeout "$(left)" cmake --build "$build_dir" --target kernel_device_test -j "$jobs" >>"$out_dir/build.log" 2>&1 \
  || fail "build failed or ran out of time: see $out_dir/build.log"
say "built in $((SECONDS - started)) s"
if [[ -z "$gpu" ]]; then
  say "no NVIDIA GPU to run on: built for sm_$arch only"
  exit 77
fi

status=0
timeout "$(left)" "$build_dir/kernel_device_test" --json "$out_dir/kernels.json" | tee "$out_dir/kernels.txt" \
  || status=1
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" timeout "$(left)" "$python" "$repo/benchmarks/device_eager.py" \
  --out "$out_dir" --kernels "$out_dir/kernels.json" || status=1
[[ ! -f "$out_dir/device_check.md" ]] || say "wrote $out_dir/device_check.{json,md} in $((SECONDS - started)) s"
[[ $status -eq 0 ]] || say "FAILED: see the output above"
exit "$status"
