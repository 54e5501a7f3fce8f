"""The shared throttle gate: one wait per (tenant, app), reported once, never shortened."""

from __future__ import annotations

import httpx
from pytest_httpx import HTTPXMock

from intune_step.auth.tokens import TokenProvider
from intune_step.config.settings import Settings
from intune_step.graph.client import GraphClient
from intune_step.report import RecordingReporter
from intune_step.transport.http import make_client
from intune_step.transport.retry import RetryPolicy
from intune_step.transport.throttle import ThrottleGate, ThrottleGates

from ..conftest import GRAPH, Sleeps, add_discovery, add_token, intune_error

APPS = f"{GRAPH}/deviceAppManagement/mobileApps"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_gate_reports_a_wait_once_and_never_shortens_it() -> None:
    clock = Clock()
    gate = ThrottleGate("t", clock, clock.sleep)
    assert gate.close_for(10) is True
    assert gate.close_for(4) is False  # already closed as long: nobody reports again
    assert gate.close_for(10) is False
    assert gate.remaining() == 10
    clock.now += 0.1
    assert gate.close_for(10) is False  # told a moment later: a little longer, no news
    assert gate.remaining() == 10
    clock.now += 3
    assert gate.close_for(12) is True  # a wait longer by seconds: that is news
    assert gate.wait() == 12
    assert gate.remaining() == 0 and gate.wait() == 0
    assert gate.close_for(1) is True  # open again: a new wait
    assert gate.closures == 3


def test_a_wait_follows_a_gate_closed_again_while_sleeping() -> None:
    clock = Clock()

    def sleep(seconds: float) -> None:  # another worker is told to wait while this one sleeps
        clock.sleep(seconds)
        if gate.closures == 1:
            gate.close_for(5)

    gate = ThrottleGate("t", clock, sleep)
    gate.close_for(6)
    assert gate.wait() == 11  # slept 6, found it closed 5 more, slept again


def test_gates_are_per_tenant_and_app_whatever_the_case() -> None:
    gates = ThrottleGates()
    assert gates.gate("Contoso", "AAA") is gates.gate("contoso", "aaa")
    assert gates.gate("contoso", "aaa") is not gates.gate("fabrikam", "aaa")
    assert gates.gate("contoso", "aaa") is not gates.gate("contoso", "bbb")


def _client(http: httpx.Client, settings: Settings, gate: ThrottleGate,
            reporter: RecordingReporter, sleeps: Sleeps) -> GraphClient:
    retry = RetryPolicy(attempts=4, sleep=sleeps, jitter=lambda lo, hi: hi)
    return GraphClient(http, settings.graph_url, "beta", TokenProvider(settings, http, reporter),
                       reporter, retry, gate=gate)


def test_a_429_to_one_client_holds_the_others_of_that_tenant(
        httpx_mock: HTTPXMock, settings: Settings, sleeps: Sleeps) -> None:
    add_discovery(httpx_mock)
    add_token(httpx_mock)
    clock = Clock()
    gates = ThrottleGates(clock, lambda s: (sleeps.append(s), clock.sleep(s)))
    gate = gates.gate(settings.tenant, settings.client_id)
    first, second = RecordingReporter(), RecordingReporter()
    httpx_mock.add_response(method="GET", url=APPS, status_code=429,
                            headers={"Retry-After": "9"}, json=intune_error("TooMany", "slow"))
    httpx_mock.add_response(method="GET", url=APPS, json={"value": []}, is_reusable=True)
    with make_client() as http:
        one = _client(http, settings, gate, first, sleeps)
        two = _client(http, settings, gate, second, sleeps)
        assert one.get("deviceAppManagement/mobileApps") == {"value": []}
        clock.now -= 9  # as if the 429 had just come: the other worker is mid-flight
        assert two.get("deviceAppManagement/mobileApps") == {"value": []}
    assert sleeps == [9.0, 9.0]  # each waited at the gate, neither on its own
    assert len(first.warnings) == 1 and "retrying in 9.0s" in first.warnings[0]
    assert second.warnings == []  # the wait is reported once
    assert gate.closures == 1
