"""One COCO segmentation (polygons, compressed or uncompressed RLE) -> one compressed RLE, or why it is bad.

Exports from labelling tools carry rows pycocotools would take silently and wrongly: a 2-point polygon
(4 numbers, which `frPyObjects` reads as a *box*), an odd number of coordinates, RLE counts that do not add
up to the image (pycocotools' decoder writes past its buffer on those), an RLE of another image's size.
Each is caught here before pycocotools sees it, as COCO's `annToRLE` would otherwise merge it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from pycocotools import mask as mask_utils


class BadRow(Exception):
    """A segmentation that cannot be used; the message says why, in a few words."""


@dataclass
class Decoded:
    rle: dict  # compressed, at the image's size
    dropped: list[str] = field(default_factory=list)  # polygon parts left out, each with why
    outside: bool = False  # polygon vertices beyond the image (pycocotools clips them)


def to_rle(segmentation, height: int, width: int) -> Decoded:
    """As COCO's annToRLE, for rows checked first; raises BadRow naming the problem."""
    if isinstance(segmentation, list):
        return _polygons(segmentation, height, width)
    if isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
        return Decoded(_rle(segmentation, height, width))
    raise BadRow("segmentation is neither polygons [[x1, y1, x2, y2, ...], ...] nor RLE {counts, size}")


def _polygons(parts: list, height: int, width: int) -> Decoded:
    if not parts:
        raise BadRow("empty segmentation")
    good, why = [], []
    for k, part in enumerate(parts):
        problem = _polygon_problem(part)
        if problem:
            why.append(problem if len(parts) == 1 else f"polygon {k + 1} of {len(parts)}: {problem}")
        else:
            good.append([float(v) for v in part])
    if not good:
        raise BadRow("; ".join(why))
    outside = any(not (0 <= v <= (width if i % 2 == 0 else height)) for p in good for i, v in enumerate(p))
    rle = mask_utils.merge(mask_utils.frPyObjects(good, height, width))
    return Decoded(rle, [f"{w}: dropped, the other parts kept" for w in why], outside)


def _polygon_problem(part) -> str | None:
    if not isinstance(part, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in part):
        return "a polygon that is not a list of numbers"
    if not all(math.isfinite(v) for v in part):
        return "a polygon with a NaN or infinite coordinate"
    if len(part) % 2:
        return f"a polygon with an odd number of coordinates ({len(part)})"
    if len(part) < 6:
        return f"polygon with {len(part) // 2} point{'s' if len(part) != 2 else ''}"
    return None


def _rle(rle: dict, height: int, width: int) -> dict:
    size, counts = rle["size"], rle["counts"]
    if not isinstance(size, (list, tuple)) or list(size) != [height, width]:
        raise BadRow(f"RLE size {size} is not the image's [{height}, {width}]")
    if isinstance(counts, list):
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            raise BadRow("uncompressed RLE counts must be whole numbers >= 0")
        _check_total(sum(counts), height, width)
        return mask_utils.frPyObjects({"counts": counts, "size": [height, width]}, height, width)
    if isinstance(counts, (str, bytes)):
        text = counts.decode("ascii", "replace") if isinstance(counts, bytes) else counts
        runs = string_counts(text)
        if any(r < 0 for r in runs):
            raise BadRow("compressed RLE decodes to a negative run: the counts string is corrupt")
        _check_total(sum(runs), height, width)
        return {"counts": text.encode("ascii"), "size": [height, width]}
    raise BadRow("RLE counts must be a list of run lengths or a compressed string")


def _check_total(total: int, height: int, width: int) -> None:
    if total != height * width:
        raise BadRow(f"RLE counts add up to {total} pixels, not the image's {height}x{width} = {height * width}")


def string_counts(text: str) -> list[int]:
    """The run lengths of a compressed RLE string: pycocotools' rleFrString, in Python, so a corrupt string
    is caught instead of decoded (its decoder trusts the runs to fit the image)."""
    runs, p = [], 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            if p >= len(text):
                raise BadRow("compressed RLE counts end in the middle of a number: the string is truncated")
            c = ord(text[p]) - 48
            if not 0 <= c < 64:
                raise BadRow(f"compressed RLE counts hold {text[p]!r}, which that encoding never writes")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)  # the last group's sign bit: negative deltas
        runs.append(x + runs[-2] if len(runs) > 2 else x)
    return runs
