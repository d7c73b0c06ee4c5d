"""Triton backend: the output contract served by a remote Triton Inference Server.

Model strings: `triton://HOST[:PORT]/NAME[/VERSION]` speaks gRPC (default port 8001) and
`http://HOST[:PORT]/NAME[/VERSION]` speaks HTTP/REST (default port 8000), Triton's own defaults.
Preprocessing and mask pasting stay on the client, so a remote model gives what the same model gives
locally. What the client needs (class names, input size, precision) comes from the model config's
parameters that `mrcnn-edge export-triton` writes. Every failure is one UserError line.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from ...contract import INPUT, check_contract
from ...errors import UserError
from ..preprocess import check_images

# Triton's type names -> numpy's, as contract.check_contract reads them
_DTYPES = {"UINT8": "uint8", "INT32": "int32", "INT64": "int64", "FP16": "float16", "FP32": "float32",
           "FP64": "float64", "BF16": "bfloat16"}
SCHEMES = {"triton": ("grpc", 8001), "http": ("http", 8000)}
REQUIRED_PARAMETERS = ("classes", "input_size")
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class TritonURL:
    protocol: str  # grpc | http
    host: str
    port: int
    model: str
    version: str = ""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def parse_url(model: str) -> TritonURL:
    parts = urlsplit(model)
    path = [p for p in parts.path.split("/") if p]
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in SCHEMES or not parts.hostname or not 1 <= len(path) <= 2 or port == -1:
        raise UserError(f"'{model}' is not a Triton model URL: use triton://HOST:PORT/NAME (gRPC) or "
                        "http://HOST:PORT/NAME (HTTP), optionally /VERSION after the name")
    protocol, default_port = SCHEMES[parts.scheme]
    return TritonURL(protocol, parts.hostname, port or default_port, path[0], path[1] if len(path) > 1 else "")


def _client_module(protocol: str):
    try:
        if protocol == "grpc":
            import tritonclient.grpc as client
        else:
            import tritonclient.http as client
        from tritonclient.utils import InferenceServerException
    except ImportError:
        raise UserError(f"tritonclient is not installed: pip install 'tritonclient[{protocol}]'") from None
    return client, InferenceServerException


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]


class TritonBackend:
    """images uint8 [B,3,H,W] -> dict of the contract's output arrays, computed by a Triton server."""

    name = "triton"
    # Many streams send one request a frame, concurrently, each thread on its own client (clone()): the
    # server's dynamic batching merges them, and a model with several instances runs them side by side.
    concurrent_requests = True

    def __init__(self, model: str):
        self.model = model
        self.url = parse_url(model)
        self._as_json = {"as_json": True} if self.url.protocol == "grpc" else {}  # HTTP answers JSON anyway
        self._module, self._server_error = _client_module(self.url.protocol)
        self.client = self._connect()
        config = self._config()
        self.info = self._info(config)
        self.batched = config.get("max_batch_size", 0) > 0
        self._check_contract()
        H, W = self.info["input_size"]
        self.input_shape = ["B" if self.batched else 1, 3, H, W]
        self.name = f"triton {self.url.protocol} {self.url.address}/{self.url.model}"

    def _connect(self):
        where = f"the Triton server at {self.url.address}"
        try:
            client = self._module.InferenceServerClient(self.url.address)
            live = client.is_server_live()
        except Exception as e:  # connection refused, DNS, timeouts: each client library has its own types
            raise UserError(f"cannot reach {where} ({_first_line(e)}): start it with "
                            "`mrcnn-edge serve --repository DIR`, or check the host and port") from None
        if not live:
            raise UserError(f"{where} is not live: check its log")
        if not self._call(client.is_model_ready, self.url.model, self.url.version):
            raise UserError(f"model '{self.url.model}' is not ready on {where}: {self._why_not_ready(client)}")
        return client

    def _why_not_ready(self, client) -> str:
        index = self._call(client.get_model_repository_index, **self._as_json)
        rows = index.get("models", []) if isinstance(index, dict) else index  # gRPC's JSON wraps the list
        mine = [r for r in rows if r.get("name") == self.url.model]
        if not mine:
            names = ", ".join(sorted(r.get("name", "?") for r in rows)) or "none"
            return f"the server has no such model (it has: {names}); pass one of those names"
        state = mine[0].get("state") or "not loaded"
        reason = mine[0].get("reason")
        return f"its state is {state}" + (f" ({reason})" if reason else "") + ": see the server's log"

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except self._server_error as e:
            raise UserError(f"the Triton server at {self.url.address} failed: {_first_line(e)}") from None
        except Exception as e:
            raise UserError(f"lost the Triton server at {self.url.address} ({_first_line(e)})") from None

    def _config(self) -> dict:
        config = self._call(self.client.get_model_config, self.url.model, self.url.version,
                            **self._as_json)
        return config.get("config", config)  # gRPC's JSON wraps it in {"config": ...}

    def _info(self, config: dict) -> dict:
        """The sidecar's fields, from the config's parameters (JSON-encoded strings)."""
        parameters = config.get("parameters", {})
        try:
            info = {k: json.loads(v["string_value"]) for k, v in parameters.items()}
        except (KeyError, TypeError, ValueError):
            info = {}
        missing = [k for k in REQUIRED_PARAMETERS if k not in info]
        if missing:
            raise UserError(f"model '{self.url.model}' on {self.url.address} does not say its {' and '.join(missing)}: "
                            "its config was not written by mrcnn-edge; write the repository with "
                            "`mrcnn-edge export-triton`")
        info.setdefault("precision", "fp32")
        return info

    def _check_contract(self) -> None:
        meta = self._call(self.client.get_model_metadata, self.url.model, self.url.version,
                          **self._as_json)
        io = {t["name"]: {"dtype": _DTYPES.get(t["datatype"], t["datatype"]), "shape": [int(d) for d in t["shape"]]}
              for t in [*meta.get("inputs", []), *meta.get("outputs", [])]}
        self.outputs = check_contract(io, f"model '{self.url.model}' on {self.url.address}",
                                      heads=self.info.get("heads", ("mask",)),  # older repositories: Mask R-CNN's
                                      size=self.info["input_size"], fix="serve a repository written by "
                                      "`mrcnn-edge export-triton`")

    def infer(self, images: np.ndarray) -> dict[str, np.ndarray]:
        check_images(images, self.input_shape, f"model '{self.url.model}'")
        return self.infer_raw(images)

    def infer_raw(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """One request as it is, unchecked: the server's own validation answers a wrong dtype or shape."""
        m = self._module
        datatype = "UINT8" if images.dtype == np.uint8 else str(images.dtype).upper().replace("FLOAT", "FP")
        request = m.InferInput(INPUT, list(images.shape), datatype)
        request.set_data_from_numpy(images)
        wanted = [m.InferRequestedOutput(n) for n in self.outputs]
        timeout = {"client_timeout": TIMEOUT_S} if self.url.protocol == "grpc" else {}
        try:
            result = self.client.infer(self.url.model, [request], self.url.version, outputs=wanted, **timeout)
        except self._server_error as e:
            if _unreachable(e):
                raise UserError(f"the Triton server at {self.url.address} stopped answering mid-stream "
                                f"({_first_line(e)}): is it still running?") from None
            raise UserError(f"the Triton server at {self.url.address} rejected the request: {_first_line(e)}") from None
        except Exception as e:  # the HTTP client raises the socket's own errors when the server is gone
            raise UserError(f"the Triton server at {self.url.address} stopped answering mid-stream "
                            f"({_first_line(e)}): is it still running?") from None
        outputs = {n: result.as_numpy(n) for n in self.outputs}
        # A batching config exposes the model's [B] as dims [1] (Triton rejects empty dims): [B,1] here
        outputs["num_detections"] = outputs["num_detections"].reshape(len(images))
        return outputs

    def clone(self) -> "TritonBackend":
        """Another client of the same model, for another thread (a client is not shared across threads)."""
        return TritonBackend(self.model)

    def close(self) -> None:
        self.client.close()


def _unreachable(e) -> bool:
    status = str(e.status() or "")
    return any(s in status for s in ("UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED"))
