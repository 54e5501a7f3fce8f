"""Win32 versions as apps of their own: supersedence, assignments carried, retention, rollback.

Through `entrypoint.py` as GitHub runs it (and the CLI for rollback), against the emulator,
whose relationships endpoints refuse what the service refuses (tests/emulator).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from intune_step.emulator import Emulator
from intune_step.samples.ipa import build_ipa
from intune_step.samples.windows import build_intunewin

from ..emulator.helpers import Api
from .conftest import FIXTURES, Run, run_cli, run_entrypoint
from .test_app_types import MSI_INFO
from .test_failures import error_lines

MSI = FIXTURES / "windows" / "demo.msi"
APPS = "deviceAppManagement/mobileApps"
GROUP = "11111111-2222-3333-4444-555555555555"
ASSIGN = f"- intent: required\n  group: {GROUP}"
# What an admin would give a copy of the app by hand: no notes, so none of our tags.
FOREIGN_FIELDS = ("@odata.type", "displayName", "publisher", "fileName", "setupFilePath",
                  "installCommandLine", "uninstallCommandLine", "rules", "msiInformation",
                  "installExperience", "returnCodes", "applicableArchitectures",
                  "minimumSupportedWindowsRelease")


def package(workspace: Path, name: str = "tool.intunewin") -> str:
    build_intunewin(workspace / name, setup_file="demo.msi", files={"demo.msi": MSI.read_bytes()},
                    name="Contoso Demo", msi_info=MSI_INFO)
    return name


def version_inputs(version: str, extra: str = "") -> dict[str, str]:
    return {"versioning": "new-app", "win32": f"display-version: '{version}'\n{extra}"}


def versions(emu: Emulator) -> dict[str, dict[str, Any]]:
    return {str(a.get("displayVersion")): a for a in emu.apps()
            if a["@odata.type"] == "#microsoft.graph.win32LobApp"}


def relationships(emu: Emulator, app_id: str) -> list[tuple[str, str, str]]:
    rows = emu.relationships(app_id)
    return sorted((r["@odata.type"].rsplit(".", 1)[-1], r["targetId"], r["targetType"])
                  for r in rows)


def groups(emu: Emulator, app_id: str) -> list[str]:
    app = emu.app(app_id)
    assert app is not None
    return [a["target"].get("groupId", "") for a in app["assignments"]]


def ok(run: Run) -> Run:
    assert run.returncode == 0, run.printed
    return run


@pytest.mark.e2e
def test_three_versions_chain_then_retention_rollback_and_reruns(
    emulator: Emulator, tmp_path: Path
) -> None:
    name = package(tmp_path)
    ok(run_entrypoint(emulator, tmp_path, name, assignments=ASSIGN, **version_inputs("1.0")))
    ok(run_entrypoint(emulator, tmp_path, name, **version_inputs("2.0")))
    third = ok(run_entrypoint(emulator, tmp_path, name, **version_inputs("3.0")))
    apps = versions(emulator)
    assert sorted(apps) == ["1.0", "2.0", "3.0"]
    v1, v2, v3 = (apps[v]["id"] for v in ("1.0", "2.0", "3.0"))
    assert third.outputs["app-id"] == v3 and third.outputs["operation"] == "created"
    # One chain: 3.0 supersedes 2.0, which supersedes 1.0.
    assert relationships(emulator, v3) == [("mobileAppSupersedence", v2, "child")]
    assert relationships(emulator, v2) == sorted([("mobileAppSupersedence", v1, "child"),
                                                  ("mobileAppSupersedence", v3, "parent")])
    # The assignments travelled forward: only the newest version is assigned.
    assert (groups(emulator, v1), groups(emulator, v2), groups(emulator, v3)) == ([], [], [GROUP])

    # A version published by someone else (same product code, no tags of ours) is never retired.
    with httpx.Client(verify=emulator.ssl_context()) as http:
        body = {k: v for k, v in apps["1.0"].items() if k in FOREIGN_FIELDS}
        foreign = Api(emulator, http).create_app({**body, "displayVersion": "0.5"})["id"]
    # The plan first: the new app, what it supersedes, what retention retires; nothing written.
    writes = len(emulator.write_requests())
    plan = ok(run_entrypoint(emulator, tmp_path, name, dry_run="true",
                             **version_inputs("4.0", "keep-versions: 3")))
    assert "Versions (dry run): version 4.0: new app" in plan.stdout
    assert f"Versions (dry run): supersedes (update) {v3}" in plan.stdout
    assert f"Versions (dry run): takes the assignments of 3.0 ({v3})" in plan.stdout
    assert f"Versions (dry run): retires 1.0 ({v1}) (keep-versions)" in plan.stdout
    assert f"keeps 0.5 ({foreign}): it was not published by intune-step" in plan.stdout
    assert emulator.write_requests()[writes:] == []
    fourth = ok(run_entrypoint(emulator, tmp_path, name,
                               **version_inputs("4.0", "keep-versions: 3")))
    apps = versions(emulator)
    assert sorted(apps) == ["0.5", "2.0", "3.0", "4.0"]  # 1.0 retired, the foreign one kept
    assert "Retired version 1.0" in fourth.stdout and foreign in fourth.stdout
    v4 = apps["4.0"]["id"]
    assert relationships(emulator, v2) == [("mobileAppSupersedence", v3, "parent")]
    assert groups(emulator, v4) == [GROUP] and groups(emulator, v3) == []

    # Re-running the same version changes nothing.
    writes = len(emulator.write_requests())
    again = ok(run_entrypoint(emulator, tmp_path, name,
                              **version_inputs("4.0", "keep-versions: 3")))
    assert again.outputs["operation"] == "unchanged"
    assert emulator.write_requests()[writes:] == []

    # Rollback (the CLI): 4.0's assignments go back to 3.0, recorded in 4.0's tags; twice is once.
    env = {"INTUNE_VERSIONING": "new-app", "INTUNE_WIN32": "display-version: '4.0'"}
    back = run_cli(emulator, tmp_path / name, command="rollback", **env)
    assert back.returncode == 0, back.stdout + back.stderr
    assert back.outputs == {"app-id": apps["3.0"]["id"], "operation": "rolled-back"}
    assert groups(emulator, apps["3.0"]["id"]) == [GROUP] and groups(emulator, v4) == []
    assert "[intune-step-rollback:" in emulator.app(v4)["notes"]
    writes = len(emulator.write_requests())
    twice = run_cli(emulator, tmp_path / name, command="rollback", **env)
    assert twice.returncode == 0 and twice.outputs["operation"] == "unchanged"
    assert emulator.write_requests()[writes:] == []


@pytest.mark.e2e
def test_a_dependency_is_written_and_a_cycle_is_refused_before_any_write(
    emulator: Emulator, tmp_path: Path
) -> None:
    build_intunewin(tmp_path / "runtime.intunewin", setup_file="setup.exe",
                    files={"setup.exe": b"MZ" + bytes(510)}, name="Contoso Runtime")
    runtime_win32 = ("install-command: setup.exe /S\nuninstall-command: setup.exe /x /S\n"
                     "detection-rules: [{file: {path: '%ProgramFiles%\\Contoso', name: rt.exe, "
                     "check: exists}}]\ndisplay-version: '1.0'\n")
    runtime = ok(run_entrypoint(emulator, tmp_path, "runtime.intunewin", win32=runtime_win32,
                                display_name="Contoso Runtime")).outputs["app-id"]
    name = package(tmp_path)
    tool = ok(run_entrypoint(emulator, tmp_path, name, **version_inputs(
        "1.0", "dependencies: [{app: Contoso Runtime, type: detect}]"))).outputs["app-id"]
    assert relationships(emulator, tool) == [("mobileAppDependency", runtime, "child")]
    writes = len(emulator.write_requests())
    cycle = run_entrypoint(emulator, tmp_path, "runtime.intunewin",
                           win32=runtime_win32 + f"dependencies: [{tool}]\n")
    assert cycle.returncode == 2, cycle.printed
    [line] = error_lines(cycle)
    assert "would make a cycle" in line
    assert emulator.write_requests()[writes:] == []
    # Name it twice over and it is ambiguous; name nothing real and it is missing.
    missing = run_entrypoint(emulator, tmp_path, name, **version_inputs(
        "2.0", "dependencies: [No Such Runtime]"))
    assert missing.returncode == 2 and "no Win32 app is named 'No Such Runtime'" in missing.stdout
    assert emulator.write_requests()[writes:] == []


@pytest.mark.e2e
def test_mobile_and_in_place_rollbacks_are_refused_with_the_reason(
    emulator: Emulator, tmp_path: Path
) -> None:
    build_ipa(tmp_path / "app.ipa")
    mobile = run_cli(emulator, tmp_path / "app.ipa", command="rollback")
    assert mobile.returncode == 2
    assert "cannot roll back a iOS LOB app" in mobile.stdout + mobile.stderr
    assert "higher build number" in mobile.stdout + mobile.stderr
    name = package(tmp_path)
    ok(run_entrypoint(emulator, tmp_path, name))  # in place: one app, nothing to go back to
    in_place = run_cli(emulator, tmp_path / name, command="rollback")
    assert in_place.returncode == 2
    assert "no earlier version to roll back to" in in_place.stdout + in_place.stderr
