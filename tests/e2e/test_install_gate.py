"""The install gate end to end: publish, then wait for the emulator's fleet to install.

Through entrypoint.py as GitHub runs it and through `intune-step status`: the gate is met,
fails with the failing devices listed (exit 4), times out (exit 5), and a token without the
report permission stops with one line. Simulated time is fast: the fleet's devices act within
fractions of a second and the gate polls every 0.2 s (INTUNE_GATE_POLL_S).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from intune_step.emulator import Emulator
from intune_step.emulator.config import READ_ROLE, READ_WRITE_ROLE
from intune_step.emulator.fleet import FleetDevice
from intune_step.samples.ipa import build_ipa

from .conftest import Run, base_env, run_entrypoint
from .hosts import RUNNERS, settings

# An app registration with the publish permissions only: no Group.Read.All.
PUBLISH_ONLY = (READ_WRITE_ROLE, READ_ROLE)

PILOT = "11111111-2222-3333-4444-555555555555"
OTHER = "99999999-2222-3333-4444-555555555555"
FAST = {"INTUNE_GATE_POLL_S": "0.2", "INTUNE_REPORT_POLL_S": "0.05"}
GATE_OUTPUTS = {"installed", "failed", "pending", "not-applicable", "gate"}


def pilot(name: str, **kwargs: object) -> FleetDevice:
    return FleetDevice(name=name, platform="iOS", groups=(PILOT,), user=f"{name}@contoso.com",
                       **kwargs)  # type: ignore[arg-type]


def build(tmp_path: Path) -> str:
    (tmp_path / "out").mkdir(exist_ok=True)
    build_ipa(tmp_path / "out" / "app.ipa", bundle_id="com.contoso.gate", version="3.1",
              build="310", min_os="16.0", device_family=[1], display_name="Gate")
    return "out/app.ipa"


def publish(emu: Emulator, tmp_path: Path, **inputs: str) -> Run:
    return run_entrypoint(emu, tmp_path, build(tmp_path), env=FAST,
                          assignments=f"- intent: required\n  group: {PILOT}\n",
                          wait_for_installs="true", **inputs)


@pytest.mark.e2e
def test_publish_then_gate_met(emulator: Emulator, tmp_path: Path) -> None:
    emulator.set_fleet((
        pilot("ipad-1", after_s=0.3), pilot("ipad-2", after_s=0.6),
        pilot("ipad-3", outcome="pending"),
        FleetDevice(name="pixel", platform="Android", groups=(PILOT,)),  # not applicable
        FleetDevice(name="elsewhere", platform="iOS", groups=(OTHER,)),  # not targeted
    ))
    run = publish(emulator, tmp_path, installs_required="2", install_timeout="30")
    assert run.returncode == 0, run.printed
    assert set(run.outputs) >= GATE_OUTPUTS
    assert run.outputs["gate"] == "met"
    assert run.outputs["installed"] == "2"
    assert run.outputs["failed"] == "0"
    assert run.outputs["pending"] == "1"
    assert run.outputs["not-applicable"] == "1"
    assert "Install gate met" in run.summary
    # One progress line per report, each with the counts.
    assert "installed, 0 failed" in run.printed
    jobs = emulator.export_jobs()
    assert jobs and all(j["reportName"] == "DeviceInstallStatusByApp" for j in jobs)
    assert all(j["filter"] == f"(ApplicationId eq '{run.outputs['app-id']}')" for j in jobs)


@pytest.mark.e2e
def test_gate_fails_with_the_failing_devices(emulator: Emulator, tmp_path: Path) -> None:
    emulator.set_fleet((pilot("ipad-ok"), pilot("ipad-bad", outcome="failed",
                                                 error_code="0x87D13B9F"),
                        pilot("ipad-waits", outcome="pending")))
    run = publish(emulator, tmp_path, installs_required="3", install_timeout="30")
    assert run.returncode == 4, run.printed
    assert run.outputs["gate"] == "failed"
    assert run.outputs["failed"] == "1" and run.outputs["installed"] == "1"
    assert run.outputs["app-id"]  # the publish itself went through
    assert "ipad-bad" in run.printed and "0x87D13B9F" in run.printed
    assert "Install gate failed" in run.summary
    assert "| ipad-bad | ipad-bad@contoso.com | iOS | 0x87D13B9F |" in run.summary


@pytest.mark.e2e
def test_gate_times_out_with_the_counts_so_far(emulator: Emulator, tmp_path: Path) -> None:
    emulator.set_fleet((pilot("ipad-1"), pilot("ipad-2", outcome="pending"),
                        pilot("ipad-old", version="3.0 (300)")))  # stays on an older build
    run = publish(emulator, tmp_path, installs_required="100%", install_timeout="1.5")
    assert run.returncode == 5, run.printed
    assert run.outputs["gate"] == "timed-out"
    assert run.outputs["installed"] == "1"  # the older build's device does not count
    assert run.outputs["pending"] == "1"
    assert "timed out after 1.5s with 1 installed" in run.printed
    assert "1 on other versions" in run.printed


@pytest.mark.e2e
def test_status_on_its_own_for_an_existing_app(emulator: Emulator, tmp_path: Path) -> None:
    emulator.set_fleet((pilot("ipad-1"), pilot("ipad-2", after_s=0.2)))
    first = run_entrypoint(emulator, tmp_path, build(tmp_path),
                           assignments=f"- intent: required\n  group: {PILOT}\n")
    assert first.returncode == 0, first.printed
    app_id = first.outputs["app-id"]
    emulator.set_roles(("DeviceManagementApps.ReadWrite.All", "Group.Read.All"))
    status = run_status(emulator,
                     INTUNE_APP_ID=app_id, INTUNE_INSTALLS_REQUIRED="2",
                     INTUNE_INSTALL_TIMEOUT="30", INTUNE_INSTALL_GROUP=PILOT,
                     )
    assert status.returncode == 0, status.printed
    assert status.outputs["gate"] == "met" and status.outputs["installed"] == "2"
    assert "version 3.1 (310)" in status.printed


@pytest.mark.e2e
def test_status_with_a_version_nobody_has(emulator: Emulator, tmp_path: Path) -> None:
    emulator.set_fleet((pilot("ipad-1"),))
    first = run_entrypoint(emulator, tmp_path, build(tmp_path),
                           assignments=f"- intent: required\n  group: {PILOT}\n")
    status = run_status(emulator, "--version", "9.9",
                     INTUNE_APP_ID=first.outputs["app-id"], INTUNE_INSTALL_TIMEOUT="0.5",
                     )
    assert status.returncode == 5, status.printed
    assert status.outputs["gate"] == "timed-out"


@pytest.mark.e2e
def test_missing_report_permission_is_one_line(emulator: Emulator, tmp_path: Path) -> None:
    emulator.set_fleet((pilot("ipad-1"),))
    first = run_entrypoint(emulator, tmp_path, build(tmp_path),
                           assignments=f"- intent: required\n  group: {PILOT}\n")
    # The token carries the publish role; the group needs Group.Read.All: stopped before any
    # report call.
    emulator.set_roles(PUBLISH_ONLY)
    status = run_status(emulator,
                     INTUNE_APP_ID=first.outputs["app-id"], INTUNE_INSTALL_GROUP=PILOT,
                     )
    assert status.returncode == 2, status.printed
    errors = [line for line in status.stderr.splitlines() if "Error" in line or "error" in line]
    assert len(errors) == 1, status.stderr
    assert "Group.Read.All" in errors[0]


def run_status(emu: Emulator, *args: str, **env_overrides: str) -> Run:
    """`python -m intune_step status` with INTUNE_* settings, at a terminal (local host)."""
    env = base_env(emu)
    env.update({"INTUNE_CLIENT_ID": emu.client_id, "INTUNE_CLIENT_SECRET": emu.client_secret,
                "INTUNE_AUTH_URL": emu.auth_url, "INTUNE_GRAPH_URL": emu.graph_url,
                "INTUNE_STEP_CI": "local", **FAST, **env_overrides})
    proc = subprocess.run([sys.executable, "-m", "intune_step", "status", *args], env=env,
                          capture_output=True, text=True, timeout=120)
    outputs = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return Run(proc.returncode, proc.stdout, proc.stderr, outputs, "", {})


@pytest.mark.e2e
def test_a_report_that_never_completes_ends_at_the_time_limit(emulator: Emulator,
                                                             tmp_path: Path) -> None:
    emulator.set_fleet((pilot("ipad-1"),))
    emulator.fail_next_report(times=50, never=True)
    run = publish(emulator, tmp_path, install_timeout="1")
    assert run.returncode == 5, run.printed
    assert run.outputs["gate"] == "timed-out" and run.outputs["installed"] == "0"


@pytest.mark.e2e
def test_reports_that_keep_failing_are_a_service_failure(emulator: Emulator,
                                                        tmp_path: Path) -> None:
    emulator.set_fleet((pilot("ipad-1"),))
    emulator.fail_next_report(times=3)
    run = publish(emulator, tmp_path, install_timeout="30")
    assert run.returncode == 3, run.printed
    assert "3 export jobs in a row" in run.printed
    assert run.printed.count("trying again at the next poll") == 2


@pytest.mark.e2e
def test_check_lists_each_feature(emulator: Emulator, tmp_path: Path) -> None:
    env = base_env(emulator)
    env.update({"INTUNE_CLIENT_ID": emulator.client_id,
                "INTUNE_CLIENT_SECRET": emulator.client_secret,
                "INTUNE_AUTH_URL": emulator.auth_url, "INTUNE_GRAPH_URL": emulator.graph_url,
                "INTUNE_STEP_CI": "local"})

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "intune_step", "check"], env=env,
                              capture_output=True, text=True, timeout=120)

    emulator.set_roles(("DeviceManagementApps.ReadWrite.All", "Group.Read.All"))
    ok = check()
    assert ok.returncode == 0, ok.stderr
    assert "install gate (install status reports): ok" in ok.stderr
    assert "groups by name, and install-group: ok (Group.Read.All)" in ok.stderr
    assert ("assignment filters by name: missing (needs DeviceManagementConfiguration.Read.All"
            in ok.stderr)
    emulator.set_roles(("DeviceManagementApps.Read.All",))
    read_only = check()
    assert read_only.returncode == 2
    assert "install gate (install status reports): missing" in read_only.stderr
    assert "read apps and export jobs: ok" in read_only.stderr
    errors = [line for line in read_only.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "DeviceManagementApps.ReadWrite.All" in errors[0]
    assert "not a readable JWT" not in read_only.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("host", ["gitlab", "azure", "appcircle", "github-any-os"])
def test_the_gate_outputs_on_every_host(emulator: Emulator, tmp_path: Path, host: str) -> None:
    emulator.set_fleet((pilot("ipad-1"), pilot("ipad-2", outcome="pending")))
    build(tmp_path)
    inputs = {**settings(emulator, "out/app.ipa"), "wait-for-installs": "true",
              "assignments": f"- intent: required\n  group: {PILOT}\n",
              "install-timeout": "60"}
    run = RUNNERS[host](emulator, tmp_path, inputs)
    assert run.returncode == 0, run.printed
    assert run.outputs["gate"] == "met", run.printed
    assert run.outputs["installed"] == "1" and run.outputs["pending"] == "1"
    assert run.outputs["not-applicable"] == "0" and run.outputs["failed"] == "0"


@pytest.mark.e2e
def test_status_refuses_bad_input_before_signing_in(emulator: Emulator) -> None:
    no_app = run_status(emulator)
    assert no_app.returncode == 2
    assert "status needs the app's ID" in no_app.stderr
    bad_bar = run_status(emulator, INTUNE_APP_ID="0f2a0000-0000-0000-0000-000000000e11",
                         INTUNE_INSTALLS_REQUIRED="lots")
    assert bad_bar.returncode == 2 and "installs-required" in bad_bar.stderr
    assert emulator.issued_tokens == []  # neither signed in


@pytest.mark.e2e
def test_status_needs_a_report_permission_not_the_publish_one(emulator: Emulator,
                                                              tmp_path: Path) -> None:
    emulator.set_fleet((pilot("ipad-1"),))
    first = run_entrypoint(emulator, tmp_path, build(tmp_path),
                           assignments=f"- intent: required\n  group: {PILOT}\n")
    app_id = first.outputs["app-id"]
    emulator.set_roles(("DeviceManagementApps.Read.All",))
    refused = run_status(emulator, INTUNE_APP_ID=app_id)
    assert refused.returncode == 2, refused.printed
    [line] = [x for x in refused.stderr.splitlines() if x.startswith("Error:")]
    assert "install gate" in line and "DeviceManagementManagedDevices.ReadWrite.All" in line
    assert not emulator.export_jobs()
    # Microsoft documents exportJobs for DeviceManagementManagedDevices.ReadWrite.All too.
    emulator.set_roles(("DeviceManagementManagedDevices.ReadWrite.All",))
    allowed = run_status(emulator, "--version", "3.1 (310)", INTUNE_APP_ID=app_id)
    assert allowed.returncode == 0, allowed.printed
    assert allowed.outputs["gate"] == "met"


@pytest.mark.e2e
def test_a_group_gate_without_the_group_permission_writes_nothing(emulator: Emulator,
                                                                 tmp_path: Path) -> None:
    emulator.set_roles(PUBLISH_ONLY)
    run = publish(emulator, tmp_path, install_group=PILOT)
    assert run.returncode == 2, run.printed
    assert "Group.Read.All" in run.printed
    assert emulator.write_requests() == [] and emulator.apps() == []
