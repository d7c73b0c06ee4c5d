"""The streams of a multi-stream run: `--source A --source B ...` and `--sources FILE`, each with a name.

A name is the stream's folder under --out-dir and its label in report.json and the preview, so it must be
unique and a plain file name. A `--sources` line is `SOURCE` or `NAME: SOURCE`; the name is the part before
a colon followed by a space, so `rtsp://host/x` (no space after its colon) and GStreamer pipelines
(`a=b ! c`) are read as sources. Blank lines and lines starting with # are skipped.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..errors import UserError

NAME = re.compile(r"[A-Za-z0-9_.-]+")
_NAMED_LINE = re.compile(r"^([A-Za-z0-9_.-]+):\s+(\S.*)$")


@dataclass(frozen=True)
class StreamSpec:
    name: str
    source: object  # a --source string, or an opened Source (tests, benchmarks)


def stream_specs(sources: list | None, sources_file: str | None = None) -> list[StreamSpec]:
    """The --source values (in order) then the --sources file's lines, each named. Unnamed streams are
    named after their source; a clash between derived names is resolved with -2, -3, ...; two streams
    given the same name is an error."""
    named: list[tuple[str | None, object]] = [(None, s) for s in sources or []]
    if sources_file:
        named += read_sources_file(sources_file)
    if not named:
        raise UserError("no source given: pass --source (one or more times) or --sources FILE")
    explicit = [n for n, _ in named if n]
    duplicates = sorted({n for n in explicit if explicit.count(n) > 1})
    if duplicates:
        raise UserError(f"stream name {duplicates[0]!r} is given to more than one source in {sources_file}: "
                        "give each stream its own name")
    taken = set(explicit)
    specs = []
    for i, (name, source) in enumerate(named):
        if name is None:
            name = _unique(derived_name(source, i), taken)
            taken.add(name)
        specs.append(StreamSpec(name, source))
    return specs


def read_sources_file(path: str) -> list[tuple[str | None, str]]:
    if not os.path.isfile(path):
        raise UserError(f"--sources file not found: {path} (one source a line, optionally 'NAME: SOURCE')")
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [line.strip() for line in f]
    rows = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        match = _NAMED_LINE.match(line)
        rows.append((match.group(1), match.group(2).strip()) if match else (None, line))
    if not rows:
        raise UserError(f"--sources file {path} lists no source: write one source a line, optionally 'NAME: SOURCE'")
    return rows


def derived_name(source, index: int) -> str:
    """A readable name from the source: a file's or folder's stem, camera<N>, the URL's last path part."""
    if not isinstance(source, str):
        return getattr(source, "name", "") or f"stream{index}"
    if source.isdigit():
        return f"camera{source}"
    if "://" in source:
        tail = source.split("://", 1)[1].split("?", 1)[0].rstrip("/")
        base = tail.rsplit("/", 1)[-1] if "/" in tail else tail.split(":", 1)[0]
        return _safe(os.path.splitext(base)[0]) or f"stream{index}"
    if "!" in source:
        return f"pipeline{index}"
    return _safe(os.path.splitext(os.path.basename(source.rstrip("/")))[0]) or f"stream{index}"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._")


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"
