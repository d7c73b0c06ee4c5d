#!/bin/bash
# The README's keypoint accuracy table: every artifact of the shipped keypoint model on 200 figures val
# images, ONNX Runtime. About 10 minutes on 2 cores.  Usage: bash benchmarks/keypoint_accuracy.sh [OUT_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$ROOT/mrcnn_edge/weights/figures_light.pth
M=$ROOT/.venv/bin/mrcnn-edge
OUT=${1:-/tmp/keypoint_accuracy}
rm -rf "$OUT" && mkdir -p "$OUT" && cd "$OUT"
$M export --weights "$W" -o model.onnx
$M surgery model.onnx
$M quantize model.onnx --precision fp16
$M quantize model.trt.onnx --precision fp16
$M calibrate model.onnx --source figures --method entropy
$M quantize model.onnx --precision int8 --cache model.calib.entropy.json
cp model.onnx q.onnx && cp model.json q.json  # the same graph, its keypoint head quantised too
$M quantize q.onnx --precision int8 --cache model.calib.entropy.json --keep-float first_conv head_outputs
$M eval --num-images 200 --backend onnxruntime --json eval.json --model "$W" \
  model.onnx model.fp16.onnx model.trt.onnx model.fp16.trt.onnx model.int8.onnx q.int8.onnx
