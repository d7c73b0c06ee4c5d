"""Helpers shared by the tests."""
import os

import pytest


def skip_or_fail(reason: str) -> None:
    """Skip for a missing dependency; in CI (CI=true, set by .ci/run), where `make test` installs it, fail."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: `make test` installs it, so its absence is a failure)")
    pytest.skip(reason)
