"""Helpers shared by the tests.

A test that needs a dependency `make test` installs (ffmpeg, shellcheck, python3-gi, the Triton server, the
test extras) skips without it on a developer's machine, and fails in CI (CI=true, set by .ci/run), where its
absence means the set-up is broken."""
import importlib
import os

import pytest

IN_CI = os.environ.get("CI") == "true"


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: `make test` installs it, so its absence is a failure)")
    pytest.skip(reason)


def require_module(name: str):
    """The module, or a skip (a failure in CI) naming it."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        skip_or_fail(f"{name} is not installed ({e})")


def unless_installed(installed: bool, reason: str):
    """A skipif marker for a missing program, which CI never takes: there the test runs and fails."""
    return pytest.mark.skipif(not installed and not IN_CI, reason=reason)
