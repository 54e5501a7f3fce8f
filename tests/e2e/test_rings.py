"""Rings and promotion, assignment settings, group and filter names, end to end.

Through `entrypoint.py` as GitHub runs it and through the CLI, against the emulator, which
serves groups and filters with their permissions and judges assignment bodies by Graph's
models (tests/emulator/test_directory.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from intune_step.emulator import Emulator
from intune_step.emulator.config import FILTER_READ_ROLE, READ_ROLE, READ_WRITE_ROLE
from intune_step.samples.ipa import build_ipa

from .conftest import run_cli, run_entrypoint
from .test_failures import error_lines

OTHER = "99999999-8888-7777-6666-555555555555"  # a group an admin assigned by hand
RINGS = """\
pilot: {intent: required, groups: [Pilot devices],
        settings: {uninstallOnDeviceRemoval: true}}
broad:
  - intent: required
    group: All staff
    filter: {name: Corporate iPhones, mode: include}
"""
SETTINGS_FILE = """\
settings:
  e2e: {}
rings:
  pilot: {intent: required, groups: [Pilot devices]}
  broad: {intent: required, groups: [All staff], settings: {isRemovable: false}}
"""


def tenant(emu: Emulator) -> dict[str, str]:
    return {"pilot": emu.add_group("Pilot devices"), "all": emu.add_group("All staff"),
            "filter": emu.add_filter("Corporate iPhones", "iOS")}


def ipa(folder: Path, build: str = "1") -> Path:
    return build_ipa(folder / "app.ipa", bundle_id="com.contoso.rings", version="1.0",
                     build=build)


def the_app(emu: Emulator) -> dict[str, Any]:
    [app] = emu.apps()
    found = emu.app(str(app["id"]))
    assert found is not None
    return found


def targets(emu: Emulator) -> dict[str, dict[str, Any]]:
    return {a["target"].get("groupId", ""): a for a in the_app(emu)["assignments"]}


def writes(emu: Emulator, before: int) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in emu.write_requests()[before:]]


def test_publish_to_pilot_then_promote_to_broad_through_the_action(
        emulator: Emulator, tmp_path: Path) -> None:
    ids = tenant(emulator)
    ipa(tmp_path)
    first = run_entrypoint(emulator, tmp_path, "app.ipa", rings=RINGS, ring="pilot",
                           assignments=f"- intent: available\n  group: {OTHER}\n"
                                       "  settings: {isRemovable: false}")
    assert first.returncode == 0, first.printed
    assert first.outputs["rings"] == "pilot"
    have = targets(emulator)
    assert set(have) == {ids["pilot"], OTHER}
    assert have[ids["pilot"]]["settings"] == {
        "@odata.type": "#microsoft.graph.iosLobAppAssignmentSettings",
        "uninstallOnDeviceRemoval": True}
    kept_settings = have[OTHER]["settings"]
    assert kept_settings["isRemovable"] is False

    # The plan first: nothing written.
    before = len(emulator.write_requests())
    plan = run_entrypoint(emulator, tmp_path, "app.ipa", rings=RINGS, **{
        "promote-to": "broad", "dry-run": "true"})
    assert plan.returncode == 0, plan.printed
    assert writes(emulator, before) == []
    planned = json.loads(plan.outputs["plan"])
    assert planned["to"] == "broad" and [a["groupId"] for a in planned["assignments"]["add"]] \
        == [ids["all"]]

    promoted = run_entrypoint(emulator, tmp_path, "app.ipa", rings=RINGS,
                              **{"promote-to": "broad"})
    assert promoted.returncode == 0, promoted.printed
    assert promoted.outputs["operation"] == "promoted"
    assert promoted.outputs["rings"] == "pilot,broad"
    have = targets(emulator)
    assert set(have) == {ids["pilot"], ids["all"], OTHER}  # extended, the others kept
    assert have[OTHER]["intent"] == "available" and have[OTHER]["settings"] == kept_settings
    broad = have[ids["all"]]["target"]
    assert broad["deviceAndAppManagementAssignmentFilterId"] == ids["filter"]
    assert broad["deviceAndAppManagementAssignmentFilterType"] == "include"

    before = len(emulator.write_requests())
    again = run_entrypoint(emulator, tmp_path, "app.ipa", rings=RINGS,
                           **{"promote-to": "broad"})
    assert again.returncode == 0, again.printed
    assert again.outputs["operation"] == "unchanged"
    assert writes(emulator, before) == []  # idempotent: no write at all


def test_promote_moves_off_a_ring_through_the_cli_with_rings_from_the_settings_file(
        emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = tenant(emulator)
    file = ipa(tmp_path)
    (tmp_path / "intune-step.yml").write_text(SETTINGS_FILE)
    monkeypatch.chdir(tmp_path)  # the CLI's workspace is the current folder
    published = run_cli(emulator, file, "--ring", "pilot", INTUNE_SETTING_NAME="e2e")
    assert published.returncode == 0, published.printed
    assert set(targets(emulator)) == {ids["pilot"]}

    moved = run_cli(emulator, file, command="promote", INTUNE_SETTING_NAME="e2e",
                    INTUNE_PROMOTE_TO="broad", INTUNE_PROMOTE_FROM="pilot")
    assert moved.returncode == 0, moved.printed
    assert moved.outputs["operation"] == "promoted"
    have = targets(emulator)
    assert set(have) == {ids["all"]}  # moved: pilot's assignment is gone
    assert have[ids["all"]]["settings"]["isRemovable"] is False

    before = len(emulator.write_requests())
    again = run_cli(emulator, file, "--promote-to", "broad", "--promote-from", "pilot",
                    command="promote", INTUNE_SETTING_NAME="e2e")
    assert again.returncode == 0, again.printed
    assert writes(emulator, before) == []


def test_promotion_needs_the_ring_before(emulator: Emulator, tmp_path: Path) -> None:
    tenant(emulator)
    ipa(tmp_path)
    assert run_entrypoint(emulator, tmp_path, "app.ipa").returncode == 0
    before = len(emulator.write_requests())
    run = run_entrypoint(emulator, tmp_path, "app.ipa", rings=RINGS, **{"promote-to": "broad"})
    assert run.returncode == 2, run.printed
    [line] = error_lines(run)
    assert "has not reached ring pilot" in line
    assert writes(emulator, before) == []


@pytest.mark.parametrize(("setup", "assignments", "message"), [
    ("twins", "- intent: required\n  group: Pilot devices",
     "2 groups are named 'Pilot devices':"),
    ("android-filter", "- intent: required\n  group: All staff\n  filter: Android fleet",
     "is for platform android, not for a iosLobApp (iOS)"),
    ("no-group", "- intent: required\n  group: Nobody", "no group in this tenant is named"),
    ("win32-setting", "- intent: required\n  group: All staff\n  settings: "
     "{notifications: hideAll}", "setting notifications does not apply to a iosLobApp"),
])
def test_names_that_cannot_be_used_stop_the_run_before_any_write(
        emulator: Emulator, tmp_path: Path, setup: str, assignments: str, message: str) -> None:
    tenant(emulator)
    if setup == "twins":
        emulator.add_group("Pilot devices")
    emulator.add_filter("Android fleet", "android")
    ipa(tmp_path)
    before = len(emulator.write_requests())
    run = run_entrypoint(emulator, tmp_path, "app.ipa", assignments=assignments)
    assert run.returncode == 2, run.printed
    [line] = error_lines(run)
    assert message in line and "Fix:" in line
    assert writes(emulator, before) == []
    assert emulator.apps() == []


@pytest.mark.parametrize(("roles", "assignments", "permission"), [
    ((READ_WRITE_ROLE, READ_ROLE, FILTER_READ_ROLE), "- intent: required\n  group: All staff",
     "Group.Read.All"),
    ((READ_WRITE_ROLE, READ_ROLE, "Group.Read.All"),
     "- intent: required\n  group: All staff\n  filter: {name: Corporate iPhones}",
     "DeviceManagementConfiguration.Read.All"),
])
def test_a_missing_permission_is_named_before_any_write(
        emulator: Emulator, tmp_path: Path, roles: tuple[str, ...], assignments: str,
        permission: str) -> None:
    tenant(emulator)
    emulator.set_roles(roles)
    file = ipa(tmp_path)
    before = len(emulator.write_requests())
    run = run_cli(emulator, file, INTUNE_ASSIGNMENTS=assignments)
    assert run.returncode == 2, run.printed
    [line] = [x for x in run.stderr.splitlines() if x.startswith("Error:")]
    assert f"needs the application permission {permission}" in line
    assert writes(emulator, before) == []


def test_names_resolve_and_settings_reach_the_assignment(emulator: Emulator,
                                                          tmp_path: Path) -> None:
    ids = tenant(emulator)
    file = ipa(tmp_path)
    run = run_cli(emulator, file, INTUNE_ASSIGNMENTS=(
        "- intent: available\n  group: Pilot devices\n  filter: Corporate iPhones\n"
        "  settings: {isRemovable: false, preventManagedAppBackup: true}"))
    assert run.returncode == 0, run.printed
    [assignment] = the_app(emulator)["assignments"]
    assert assignment["target"]["groupId"] == ids["pilot"]
    assert assignment["target"]["deviceAndAppManagementAssignmentFilterId"] == ids["filter"]
    assert assignment["settings"]["@odata.type"] == \
        "#microsoft.graph.iosLobAppAssignmentSettings"
    assert assignment["settings"]["preventManagedAppBackup"] is True
    before = len(emulator.write_requests())
    again = run_cli(emulator, file, INTUNE_ASSIGNMENTS=(
        "- intent: available\n  group: Pilot devices\n  filter: Corporate iPhones\n"
        "  settings: {isRemovable: false, preventManagedAppBackup: true}"))
    assert again.returncode == 0, again.printed
    assert writes(emulator, before) == []  # same file, same assignments, same settings


def test_a_ring_rollback_moves_only_that_rings_assignments(emulator: Emulator,
                                                           tmp_path: Path) -> None:
    from .test_win32_versions import package, version_inputs, versions

    ids = tenant(emulator)
    rings = "pilot: {groups: [Pilot devices]}\nbroad: {groups: [All staff]}\n"
    name = package(tmp_path)
    first = run_entrypoint(emulator, tmp_path, name, rings=rings, ring="pilot",
                           **version_inputs("1.0"))
    assert first.returncode == 0, first.printed
    second = run_entrypoint(emulator, tmp_path, name, rings=rings, ring="pilot",
                            **version_inputs("2.0"))
    assert second.returncode == 0, second.printed
    promoted = run_entrypoint(emulator, tmp_path, name, rings=rings, **version_inputs("2.0"),
                              **{"promote-to": "broad"})
    assert promoted.returncode == 0, promoted.printed
    apps = versions(emulator)
    v1, v2 = apps["1.0"]["id"], apps["2.0"]["id"]

    def held(app_id: str) -> set[str]:
        app = emulator.app(app_id)
        assert app is not None
        return {a["target"]["groupId"] for a in app["assignments"]}

    assert (held(v1), held(v2)) == (set(), {ids["pilot"], ids["all"]})
    back = run_cli(emulator, tmp_path / name, command="rollback", INTUNE_RINGS=rings,
                   INTUNE_RING="broad", INTUNE_VERSIONING="new-app",
                   INTUNE_WIN32="display-version: '2.0'")
    assert back.returncode == 0, back.printed
    assert (held(v1), held(v2)) == ({ids["all"]}, {ids["pilot"]})  # only broad went back


def test_win32_assignment_settings_pass_the_models_and_a_foreign_one_is_refused(
        emulator: Emulator, tmp_path: Path) -> None:
    from .test_win32_versions import package

    ids = tenant(emulator)
    name = package(tmp_path)
    settings = ("  settings:\n    notifications: showReboot\n"
                "    deliveryOptimizationPriority: foreground\n"
                "    installTimeSettings: {startDateTime: '2026-07-01T08:00:00Z', "
                "deadlineDateTime: '2026-07-03T18:00:00Z', useLocalTime: true}\n"
                "    restartSettings: {gracePeriodInMinutes: 1440, "
                "countdownDisplayBeforeRestartInMinutes: 15, "
                "restartNotificationSnoozeDurationInMinutes: 240}\n"
                "    autoUpdateSettings: {autoUpdateSupersededAppsState: enabled}\n")
    ios_only = "- intent: required\n  group: All staff\n  settings: {isRemovable: false}"
    before = len(emulator.write_requests())
    refused = run_cli(emulator, tmp_path / name, INTUNE_ASSIGNMENTS=ios_only)
    assert refused.returncode == 2
    assert "setting isRemovable does not apply to a win32LobApp" in refused.stderr
    assert writes(emulator, before) == []
    run = run_cli(emulator, tmp_path / name,
                  INTUNE_ASSIGNMENTS=f"- intent: required\n  group: All staff\n{settings}")
    assert run.returncode == 0, run.printed
    [assignment] = the_app(emulator)["assignments"]
    assert assignment["target"]["groupId"] == ids["all"]
    assert assignment["settings"]["@odata.type"] == \
        "#microsoft.graph.win32LobAppAssignmentSettings"
    assert assignment["settings"]["restartSettings"]["gracePeriodInMinutes"] == 1440
    assert assignment["settings"]["installTimeSettings"]["useLocalTime"] is True
