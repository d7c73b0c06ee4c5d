"""The sidecar `<model>.json` that export writes next to every model: what the runtime must know."""
from __future__ import annotations

import json
import os

from .errors import UserError
from .files import write_atomic
from .names import sidecar_path  # noqa: F401  (the sidecar's name, re-exported for its readers)

REQUIRED = ("arch", "classes", "input_size", "precision", "detections")


def read_sidecar(model_path: str) -> dict:
    """The sidecar of model_path as a dict; a UserError if it is missing or not ours."""
    path = sidecar_path(model_path)
    if not os.path.isfile(path):
        raise UserError(f"{model_path} has no sidecar {os.path.basename(path)}: it was not exported by "
                        "mrcnn-edge (run `mrcnn-edge export`)")
    try:
        with open(path) as f:
            info = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{path} is not valid JSON: re-export the model") from None
    missing = [k for k in REQUIRED if not isinstance(info, dict) or k not in info]
    if missing:
        raise UserError(f"{path} lacks {', '.join(missing)}: it is not an mrcnn-edge sidecar, re-export the model")
    return info


def write_sidecar(model_path: str, info: dict) -> str:
    """Write info as the sidecar of model_path, atomically (a reader never sees half a file)."""
    path = sidecar_path(model_path)
    with write_atomic(path) as tmp, open(tmp, "w") as f:
        json.dump(info, f, indent=2)
    return path


def derive_sidecar(model_in: str, model_out: str, **changes) -> str:
    """The sidecar of a graph made from model_in: model_in's, with changes."""
    return write_sidecar(model_out, {**read_sidecar(model_in), **changes})
