"""Throttling per tenant and app, and several tenants side by side.

Microsoft: "Throttling limits" (https://learn.microsoft.com/graph/throttling-limits, Intune
service limits: requests and writes per app per tenant per 20 s) and "Microsoft Graph
throttling guidance" (https://learn.microsoft.com/graph/throttling: 429 Too Many Requests with
Retry-After; requests while throttled are refused). docs/protocol.md, "Throttling and
transient errors".
"""

from __future__ import annotations

import ssl
import time

import httpx
import pytest

from intune_step.emulator import Emulator, EmulatorConfig, Tenants
from intune_step.emulator.throttle import Throttle

from .helpers import Api, ios_body

APPS = "deviceAppManagement/mobileApps"


@pytest.mark.emu(throttle_requests=3, throttle_window_s=2.0)
def test_past_the_limit_graph_answers_429_with_retry_after(emu: Emulator, api: Api) -> None:
    for _ in range(3):
        assert api.call("GET", APPS).status_code == 200
    refused = api.call("GET", APPS)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "TooManyRequests"
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 2
    assert api.call("GET", APPS).status_code == 429  # refused while the window is full
    time.sleep(wait)
    assert api.call("GET", APPS).status_code == 200  # honouring Retry-After is enough
    record = next(r for r in emu.request_log if r.status == 429)
    assert record.retry_after == refused.headers["Retry-After"] and record.at > 0


@pytest.mark.emu(throttle_writes=1, throttle_window_s=5.0)
def test_writes_have_their_own_lower_limit(api: Api) -> None:
    assert api.call("POST", APPS, ios_body()).status_code == 201
    assert api.call("POST", APPS, ios_body(displayName="Two")).status_code == 429
    assert api.call("GET", APPS).status_code == 200  # reads are still under their limit


def test_no_throttling_unless_configured(api: Api) -> None:
    assert all(api.call("GET", APPS).status_code == 200 for _ in range(25))


def test_counts_are_per_tenant_and_per_app() -> None:
    now = [0.0]
    throttle = Throttle(EmulatorConfig(throttle_requests=2, throttle_window_s=20.0),
                        clock=lambda: now[0])
    assert throttle.check("t1", "a1", False) is None
    assert throttle.check("t1", "a1", True) is None
    assert throttle.check("t1", "a1", False) == 20
    assert throttle.check("t2", "a1", False) is None  # another tenant
    assert throttle.check("t1", "a2", False) is None  # another app
    now[0] = 15.0
    assert throttle.check("t1", "a1", False) == 5  # until the oldest leaves the window
    now[0] = 20.0
    assert throttle.check("t1", "a1", False) is None


def test_tenants_keep_their_own_apps_tokens_and_permissions() -> None:
    configs = [EmulatorConfig(throttle_requests=2, throttle_window_s=30.0), EmulatorConfig(),
               EmulatorConfig(roles=())]
    with Tenants(configs) as tenants:
        assert len({emu.tenant_id for emu in tenants}) == 3
        assert len({emu.client_id for emu in tenants}) == 3
        with httpx.Client(verify=ssl.create_default_context(cafile=tenants.ca_path),
                          timeout=30) as http:
            one, two, three = (Api(emu, http) for emu in tenants)
            one.call("GET", APPS)
            one.call("GET", APPS)
            assert one.call("GET", APPS).status_code == 429
            assert two.call("GET", APPS).status_code == 200  # its own throttling counts
            # A token of one tenant is refused by another's Graph.
            stray = two.call("GET", APPS, headers={"Authorization": f"Bearer {one.token}"})
            assert stray.status_code == 401
            assert stray.json()["error"]["code"] == "InvalidAuthenticationToken"
            # Its app registration is not in the other tenant's directory.
            foreign = two.token_response(client_id=tenants[0].client_id)
            assert foreign.status_code == 400
            assert foreign.json()["error_codes"] == [700016]
            # Permissions are per tenant: this one granted none.
            assert three.call("GET", APPS).status_code == 403
            created = two.call("POST", APPS, ios_body())
            assert created.status_code == 201
        assert tenants[1].apps() and not tenants[0].apps() and not tenants[2].apps()
