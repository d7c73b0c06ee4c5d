"""How many threads one inference session takes, and ONNX Runtime's session options: one source for the ONNX
Runtime and OpenVINO backends, the plugin graph runner (surgery) and calibration. Bottom layer: it imports
nothing of the package but errors, and nothing heavy.

By default a session takes every core. $MRCNN_EDGE_THREADS caps it: several processes on one machine (one
`run` per camera, or test workers) each take their share instead of all fighting for every core.
"""
from __future__ import annotations

import os

from .errors import UserError

ENV = "MRCNN_EDGE_THREADS"


def requested_threads(threads: int | None = None) -> int | None:
    """threads, else $MRCNN_EDGE_THREADS, else None: the runtime's own default."""
    if threads:
        return threads
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise UserError(f"${ENV} is '{value}': set it to a whole number of threads (1 or more), or unset it")
    return int(value)


def ort_session_options(ort, threads: int | None = None):
    """ONNX Runtime's options for one session of `threads` intra-op threads (None: $MRCNN_EDGE_THREADS, else
    every core)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = requested_threads(threads) or os.cpu_count() or 1
    options.inter_op_num_threads = 1  # one chain of big ops: parallelism within ops pays, across does not
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # its warnings (an optimised cache's hardware note) say nothing to our users
    # ORT's idle workers spin after each run by default; in a stream the host then draws and encodes the frame
    # on the same cores, and the plugin runner runs its plugins between segments: the spinning threads take
    # their time from both (measured: two plugin-graph runs side by side on 2 cores, 6% slower with spinning).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options
