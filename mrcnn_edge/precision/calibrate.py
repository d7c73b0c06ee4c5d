"""`mrcnn-edge calibrate`: activation ranges of model.onnx on calibration images -> a reusable cache.

The cache is ONNX Runtime's own JSON (tensor name -> range or histogram), so `quantize_static` reads
it back without running the model again, on any machine. Tensor names survive graph surgery, so one
cache quantises both model.onnx and model.trt.onnx.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import time
from dataclasses import dataclass, field

from onnxruntime.quantization import CalibrationMethod
from onnxruntime.quantization.calibrate import create_calibrator, load_tensors_data, save_tensors_data
from tqdm import tqdm

from ..errors import UserError
from ..files import REEXPORT, read_onnx
from ..names import CALIBRATION_METHOD, CALIBRATION_METHODS, calibration_cache_path
from ..sidecar import read_sidecar
from ..threads import ort_session_options
from .calibration_data import LetterboxedReader, calibration_frames
from .placement import QUANTIZED_OP_TYPES

METHODS = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
           "percentile": CalibrationMethod.Percentile}
assert set(METHODS) == set(CALIBRATION_METHODS)
# Images per collect_data call. The calibrator holds every calibrated tensor of every image in a
# call (R50-FPN @800: ~0.5 GB an image), then merges them into running ranges or histograms, so
# memory is bounded by the chunk, not by the number of images.
CHUNK = 4


@dataclass
class CalibrationResult:
    """The int8 calibration cache: its path, the method, the images read and those skipped."""

    cache: str
    method: str
    num_images: int
    tensors: int
    seconds: float
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why): unreadable images passed over


def _calibrator(onnx_path: str, method: str, workdir: str):
    import onnxruntime as ort

    extra = {"symmetric": True}  # TensorRT's INT8 is symmetric; ORT runs symmetric ranges too
    if method == "percentile":
        extra.update(percentile=99.999, num_bins=2048)
    calibrator = create_calibrator(onnx_path, QUANTIZED_OP_TYPES, os.path.join(workdir, "augmented.onnx"),
                                   calibrate_method=METHODS[method], extra_options=extra)
    # ORT's calibrator session takes every core and spins: ours takes $MRCNN_EDGE_THREADS, as every inference
    # session does (threads.py). Still unoptimised, as ORT makes it: a fusion would hide the tensors to range.
    options = ort_session_options(ort)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    calibrator.infer_session = ort.InferenceSession(calibrator.augmented_model_path, options,
                                                    providers=calibrator.execution_providers)
    return calibrator


def calibrate(onnx_path: str, source: str = "synthetic", *, method: str = CALIBRATION_METHOD, num_images: int = 32,
              cache_path: str | None = None, strict: bool = False) -> CalibrationResult:
    """Collect activation statistics of `onnx_path` over `num_images` from `source`; write the cache.
    Unreadable images of a folder are skipped and listed (an error with `strict`)."""
    if method not in METHODS:
        raise UserError(f"unknown calibration method '{method}': choose {', '.join(METHODS)}")
    if not os.path.isfile(onnx_path):
        raise UserError(f"model not found: {onnx_path} (run `mrcnn-edge export` first)")
    read_onnx(onnx_path, weights=False, fix=REEXPORT)  # a broken file in one line, before the calibrator reads it
    size = tuple(read_sidecar(onnx_path)["input_size"])
    cache_path = cache_path or calibration_cache_path(onnx_path, method)
    skipped: list[tuple[str, str]] = []
    frames = calibration_frames(source, num_images, None if strict else skipped)
    start, seen = time.perf_counter(), 0
    # ONNX Runtime's calibrators print progress to stdout ("Collecting tensor data ..."): keep stdout for
    # what the command says it did
    with tempfile.TemporaryDirectory(prefix="mrcnn_edge_calib.") as workdir, \
            open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        calibrator = _calibrator(onnx_path, method, workdir)
        with tqdm(total=num_images, desc=f"calibrate ({method})", unit="img") as bar:
            while chunk := list(itertools.islice(frames, CHUNK)):
                calibrator.collect_data(LetterboxedReader(chunk, size))
                seen += len(chunk)
                bar.update(len(chunk))
        if seen == 0:
            why = f" ({len(skipped)} unreadable; first: {skipped[0][1]})" if skipped else ""
            raise UserError(f"calibration source {source} gave no images{why}")
        ranges = calibrator.compute_data()
    save_tensors_data(ranges, cache_path)
    return CalibrationResult(cache_path, method, seen, len(ranges.data), time.perf_counter() - start, skipped)


def read_cache(cache_path: str):
    if not os.path.isfile(cache_path):
        raise UserError(f"calibration cache not found: {cache_path} (run `mrcnn-edge calibrate` first)")
    try:
        return load_tensors_data(cache_path)
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"calibration cache {cache_path} is corrupt ({e}): run `mrcnn-edge calibrate` again") from None

