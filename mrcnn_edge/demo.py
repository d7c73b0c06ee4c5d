"""`mrcnn-edge demo`: from nothing to an annotated video and a latency report, with the shipped model.

Steps (each cached in the output folder): generate a synthetic video of moving, overlapping shapes (with
`--task keypoints`: of walking figures, for the shipped keypoint model);
export the shipped checkpoint to ONNX (cache keyed by the checkpoint's sha256); stream the video
through the best backend available (TensorRT; on a CPU OpenVINO fp32, else ONNX Runtime: bf16 is faster
but costs 0.7 mask AP, int8 needs a calibration run; benchmarks/results/cpu_backends.md); write the
annotated video, report.json and latency.png.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from .runtime.run import RunResult


def cached_onnx(checkpoint: str, out_dir: str, size: tuple[int, int]) -> str:
    """The checkpoint exported to ONNX at `size`, exported once per checkpoint content and size."""
    from .export.onnx_export import export_onnx
    from .files import sha256_of
    from .sidecar import sidecar_path

    path = os.path.join(out_dir, f"model_{sha256_of(checkpoint)[:16]}_{size[0]}x{size[1]}.onnx")
    # The sidecar is written after the graph: with both present, the export finished.
    if not (os.path.isfile(path) and os.path.isfile(sidecar_path(path))):
        os.makedirs(out_dir, exist_ok=True)
        export_onnx(checkpoint, path, size=size)
    return path


@dataclass
class DemoResult:
    run: RunResult
    model: str
    video_in: str
    seconds: float
    task: str = "masks"

    def summary(self) -> str:
        r = self.run
        what = ("light Keypoint R-CNN", "walking, overlapping figures") if self.task == "keypoints" else \
            ("light Mask R-CNN", "moving, overlapping shapes")
        paragraph = (f"The shipped {what[0]} ran on {r.backend} ({r.precision}, {r.input_size[0]}x"
                     f"{r.input_size[1]} input) over {r.frames_processed} frames of a synthetic video of {what[1]}: p50 {r.p50_ms:.1f} ms and p99 {r.p99_ms:.1f} ms per frame end to end, "
                     f"{r.fps:.1f} fps, {r.fps / 5:.1f}x the paper's 5 fps (200 ms per frame) baseline. "
                     f"Done in {self.seconds:.0f} s.")
        lines = [paragraph, "", f"  input  {self.video_in}", f"  model  {self.model}"]
        lines += [f"  {what:<7}{path}" for what, path in r.outputs.items()]
        return "\n".join(lines)


def best_artifact(onnx_path: str) -> str:
    """A TensorRT FP16 engine where TensorRT is installed, made by `build`'s chain (surgery, fp16, `check`
    against TensorRT's rules, engine), else the ONNX model itself."""
    from .engine.metadata import import_tensorrt

    if import_tensorrt() is None:
        return onnx_path
    from .chain import build_chain

    return build_chain("fp16", model=onnx_path, progress=False).build.path


def run_demo(out_dir: str = "demo_out", num_frames: int = 120, size: int = 512, live_line: bool = True,
             backend: str = "auto", task: str = "masks") -> DemoResult:
    """task "masks": the shipped Mask R-CNN on moving shapes; "keypoints": the shipped Keypoint R-CNN on
    walking figures."""
    import time

    from .data.video import make_video
    from .model.zoo import default_checkpoint
    from .runtime.run import run_stream

    start = time.perf_counter()
    stem = "shapes" if task == "masks" else "figures"
    video_in = make_video(os.path.join(out_dir, f"{stem}_{num_frames}f_{size}.mp4"), num_frames, size, task=task)
    model = best_artifact(cached_onnx(default_checkpoint(task), out_dir, (size, size)))
    result = run_stream(model, video_in, out=os.path.join(out_dir, "annotated.mp4"),
                        jsonl=os.path.join(out_dir, "detections.jsonl"), report_dir=out_dir, live_line=live_line,
                        backend=backend)
    return DemoResult(result, model, video_in, time.perf_counter() - start, task)
