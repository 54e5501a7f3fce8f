"""The fault matrix: the emulator's low-level fixtures, reused for its fault additions."""

from __future__ import annotations

import pytest

from ..emulator.conftest import api, emu, http

__all__ = ["api", "emu", "http"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emu(**kwargs): EmulatorConfig fields for the emu fixture")
