"""Which TensorRT releases can put a strongly typed graph of which precision on a DLA core, as data.

Pure (no TensorRT import), so that the rule is tested with version strings on any machine.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError


@dataclass(frozen=True)
class DlaRule:
    first: tuple[int, int]      # first TensorRT (major, minor) the row covers
    last: tuple[int, int]       # last one, inclusive
    precisions: tuple[str, ...]  # graph precisions whose layers the DLA runs; () = no DLA at all
    source: str


DLA_RULES = (
    DlaRule((10, 0), (10, 99), ("fp16", "int8"),
            "TensorRT 10.3 developer guide, 'Working with DLA': DLA runs FP16 and INT8 layers only; with "
            "GPU fallback every FP32 layer of a strongly typed graph runs on the GPU"),
    DlaRule((11, 0), (11, 3), (),
            "TensorRT 11.0 release notes: DLA is not supported in 11.0 through 11.3"),
    DlaRule((11, 4), (11, 99), ("fp16", "int8"),
            "TensorRT 11.4 release notes: DLA returns on Jetson AGX Orin with JetPack 7.2 (FP16/INT8 layers)"),
)


def _release(version: str) -> tuple[int, int]:
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        raise UserError(f"cannot read the TensorRT version '{version}'") from None
    return major, minor


def check_dla(tensorrt_version: str, precision: str, dla_core: int | None) -> None:
    """A one-line UserError when `--dla-core` cannot do what it says with this TensorRT and precision."""
    if dla_core is None:
        return
    release = _release(tensorrt_version)
    rule = next((r for r in DLA_RULES if r.first <= release <= r.last), None)
    if rule is None or not rule.precisions:
        raise UserError(f"--dla-core: TensorRT {tensorrt_version} has no DLA support (DLA is in 10.x and again "
                        "from 11.4 on Jetson AGX Orin with JetPack 7.2): drop --dla-core to build for the GPU")
    if precision not in rule.precisions:
        raise UserError(f"--dla-core with a {precision} graph: the DLA of TensorRT {tensorrt_version} runs only "
                        f"{'/'.join(rule.precisions)} layers, so every layer would silently run on the GPU: "
                        f"build --precision fp16 or int8, or drop --dla-core")
