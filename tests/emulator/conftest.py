from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from intune_step.emulator import Emulator, EmulatorConfig

from .helpers import Api


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emu(**kwargs): EmulatorConfig fields for the emu fixture")


@pytest.fixture
def emu(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    marker = request.node.get_closest_marker("emu")
    with Emulator(EmulatorConfig(**(marker.kwargs if marker else {}))) as emulator:
        yield emulator


@pytest.fixture
def http(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(verify=emu.ssl_context(), timeout=30) as client:
        yield client


@pytest.fixture
def api(emu: Emulator, http: httpx.Client) -> Api:
    return Api(emu, http)
