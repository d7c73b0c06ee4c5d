"""The sidecar `<model>.json` that export writes next to every model: what the runtime must know."""
from __future__ import annotations

import json
import os

from ...errors import UserError

REQUIRED = ("arch", "classes", "input_size", "precision", "detections")


def sidecar_path(model_path: str) -> str:
    return os.path.splitext(model_path)[0] + ".json"


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
