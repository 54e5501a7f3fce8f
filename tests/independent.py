"""The independent readers the cross-checks compare with, and what happens when one is absent.

Outside CI a missing reader skips its cross-check, so a developer without msitools or 7-Zip can
still run the rest. In CI (``CI`` set, as every CI host sets it) `.ci/run` installs them all (the
test extra in pyproject.toml, the apt packages in its list), so a missing one is an install
step gone wrong: the cross-check fails instead of passing silently by skipping.
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest

IN_CI = bool(os.environ.get("CI"))


def require_module(name: str) -> ModuleType:
    """Import ``name`` (a Python package from the test extra), or skip, or fail in CI."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        message = f"{name} is not installed ({exc}); pip install -e '.[test]'"
        if IN_CI:
            pytest.fail(f"{message}: .ci/run should have installed it", pytrace=False)
        pytest.skip(message)


def require_tool(name: str) -> str:
    """The path of command ``name`` (an apt package in .ci/run), or skip, or fail in CI."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (see apt_packages in .ci/run)"
        if IN_CI:
            pytest.fail(f"{message}: .ci/run should have installed it", pytrace=False)
        pytest.skip(message)
    return found


def needs_tool(name: str) -> pytest.MarkDecorator:
    """A marker for tests that run ``name``: skipped without it, except in CI, where the test
    runs and fails on the missing command."""
    return pytest.mark.skipif(
        shutil.which(name) is None and not IN_CI, reason=f"{name} is not installed"
    )
