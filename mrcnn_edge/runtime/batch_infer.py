"""How an artifact takes a batch of frames, and one inference call per batch with one failure per frame.

The first axis of the model's input says it: a symbolic batch (`export --dynamic-batch`, a TensorRT
profile) takes the batch in one call; a fixed 1 takes frames one by one; a fixed N takes batches padded to
N with black images, whose rows are ignored. A remote model (Triton: `concurrent_requests`) gets one request
a frame, all of a batch at once from a pool of clients, and the server's dynamic batching merges them.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BatchPlan:
    size: int  # frames per batch the batcher forms
    batched: bool  # one inference call per batch (else frame by frame)
    fixed: int | None  # the artifact's fixed batch above 1: every call is padded to it
    note: str = ""  # what the user should know, said once
    concurrent: bool = False  # one request a frame, all at once (a remote server batches them)


def batch_plan(predictor, streams: int, max_batch: int | None = None) -> BatchPlan:
    """The plan for `streams` streams on this predictor's backend (its `input_shape`; none: batch 1)."""
    backend = getattr(predictor, "backend", None)
    shape = getattr(backend, "input_shape", None) or [1]
    first = shape[0]
    wanted = max_batch or streams
    if getattr(backend, "concurrent_requests", False):
        note = (f"{backend.name}: the {streams} streams' frames go as concurrent requests, which the server's "
                "dynamic batching merges (where its config enables it)") if wanted > 1 else ""
        return BatchPlan(wanted, False, None, note, concurrent=wanted > 1)
    if first == 1:
        note = (f"the model takes one image per call (batch 1): the {streams} streams' frames run one by one; "
                "export with --dynamic-batch to batch them") if streams > 1 else ""
        return BatchPlan(wanted, False, None, note)
    if isinstance(first, int):
        return BatchPlan(min(wanted, first), True, first)
    return BatchPlan(wanted, wanted > 1, None)


class RequestPool:
    """Threads that each send one frame's request on their own clone of the backend."""

    def __init__(self, backend, workers: int):
        self.backend = backend
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mrcnn-edge-request")

    def _infer(self, images: np.ndarray):
        if not hasattr(self._local, "backend"):
            self._local.backend = self.backend.clone()
        try:
            return self._local.backend.infer(images), 0
        except Exception as e:  # this frame's failure only
            return e

    def infer(self, images: list[np.ndarray]) -> list:
        return list(self._pool.map(self._infer, images))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def infer_batch(predictor, images: list[np.ndarray], plan: BatchPlan, pool: RequestPool | None = None) -> list:
    """images: [1,3,H,W] each -> for each image (raw outputs, its row in them), or the exception it raised.
    A batch whose call fails is run again frame by frame, so one bad frame never fails the others."""
    if not images:
        return []
    if pool is not None:
        return pool.infer(images)
    if plan.batched and len(images) > 1:
        try:
            raw = predictor.infer(_padded(np.concatenate(images), plan.fixed))
            return [(raw, i) for i in range(len(images))]
        except Exception:
            pass  # find the frame at fault below
    results = []
    for image in images:
        try:
            results.append((predictor.infer(_padded(image, plan.fixed)), 0))
        except Exception as e:
            results.append(e)
    return results


def _padded(images: np.ndarray, batch: int | None) -> np.ndarray:
    if not batch or len(images) >= batch:
        return images
    return np.concatenate([images, np.zeros((batch - len(images), *images.shape[1:]), images.dtype)])
