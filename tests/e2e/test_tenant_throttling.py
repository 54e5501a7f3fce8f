"""Under Intune's throttling, a run to several tenants with high parallelism never sends a
request to a tenant inside the Retry-After window that tenant gave (from the emulator's log).

Microsoft: https://learn.microsoft.com/graph/throttling ("Best practices to handle
throttling": wait the seconds in Retry-After before retrying; requests sent meanwhile are
refused and count against the limit).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from intune_step.emulator import EmulatorConfig, Tenants
from intune_step.errors import EXIT_OK
from intune_step.samples.apk import build_apk
from intune_step.samples.ipa import build_ipa

from .tenant_runs import publish, write_settings

# Requests already on the wire when the first 429 came back reach the emulator just after it:
# the client cannot recall them. Anything later inside the window is a request it chose to send.
IN_FLIGHT = 0.25


@pytest.mark.e2e
def test_no_request_inside_a_tenants_retry_after_window(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    build_ipa(dist / "a.ipa", bundle_id="com.contoso.a")
    build_apk(dist / "b.apk", package="com.contoso.b")
    build_apk(dist / "c.apk", package="com.contoso.c")
    config = EmulatorConfig(throttle_requests=12, throttle_window_s=2.0)
    with Tenants([config] * 3) as tenants:
        env = write_settings(tmp_path, tenants, ["one", "two", "three"], max_tenants=3)
        code, host = publish(tmp_path, env, **{"max-parallel": "3"})
        assert code == EXIT_OK, host.errors
        assert all(t["operation"] == ["created"] * 3 for t in host.targets().values())
        throttled = 0
        for emu in tenants:
            graph = sorted((r for r in emu.request_log if r.service == "graph"),
                           key=lambda r: r.at)
            refusals = [r for r in graph if r.status == 429]
            throttled += len(refusals)
            for refusal in refusals:
                assert refusal.retry_after is not None
                opens = refusal.at + float(refusal.retry_after)
                inside = [r for r in graph if refusal.at + IN_FLIGHT < r.at < opens]
                assert inside == [], (refusal, inside)
        assert throttled > 0  # the limits were reached: the check above saw windows
        # One wait, reported once per closing of a tenant's gate, not once per worker.
        waits = [w for w in host.warnings if "waits until then" in w]
        assert 0 < len(waits) <= throttled
