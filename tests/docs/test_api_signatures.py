"""The Python API (every object docs/api.md documents, and its public methods) takes four or more parameters
keyword-only past the first three, as torchvision's builders do: a call reads as what it sets, and a
parameter can be added or reordered without silently shifting a caller's values."""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest

API_PAGE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
MAX_POSITIONAL = 3  # the leading parameters a caller may pass in order (self and cls not counted)


def _documented() -> list[tuple[str, object]]:
    names = re.findall(r"^::: ([\w.]+)$", API_PAGE.read_text(), re.M)
    assert len(names) >= 15, f"docs/api.md lists {len(names)} objects: did its ::: lines change form?"
    found = []
    for name in names:
        module, attr = name.rsplit(".", 1)
        obj = getattr(importlib.import_module(module), attr)
        if not dataclasses.is_dataclass(obj):  # its fields are a record's, in declared order: Detections(boxes, ...)
            found.append((name, obj))
        if inspect.isclass(obj):
            found += [(f"{name}.{m}", f) for m, f in vars(obj).items()
                      if not m.startswith("_") and isinstance(f, (classmethod, staticmethod, type(_documented)))]
    return found


def violations(function) -> list[str]:
    """The parameters a caller may pass by position past MAX_POSITIONAL, where there are four or more."""
    function = function.__func__ if isinstance(function, (classmethod, staticmethod)) else function
    params = [p for p in inspect.signature(function).parameters.values() if p.name not in ("self", "cls")]
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    named = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return positional[MAX_POSITIONAL:] if len(named) >= 4 else []


@pytest.mark.parametrize("name, obj", _documented(), ids=lambda v: v if isinstance(v, str) else "")
def test_four_or_more_parameters_are_keyword_only(name, obj):
    function = obj.__init__ if inspect.isclass(obj) else obj
    assert violations(function) == [], f"{name}: make these keyword-only (after a *)"


def test_the_check_catches_a_positional_fourth_parameter():
    def planted(path, arch=None, num_classes=None, classes=None):  # load_model's old signature
        return path

    def fixed(path, *, arch=None, num_classes=None, classes=None):
        return path

    def short(path, arch=None, classes=None):  # three: positional is fine
        return path

    assert violations(planted) == ["classes"]
    assert violations(fixed) == violations(short) == []
    assert violations(classmethod(lambda cls, a, b, c, d: a)) == ["d"]
