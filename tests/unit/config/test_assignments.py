"""The assignments input: the issue's YAML form, one-line errors with the fix, and the diff
that /assign receives (merged into the current set unless replace-assignments)."""

from __future__ import annotations

import pytest

from intune_step.config.assignments import Assignment, parse_assignments
from intune_step.errors import SettingsError
from intune_step.graph.assignments import diff, from_graph

G1 = "00000000-0000-0000-0000-000000000001"
G2 = "00000000-0000-0000-0000-000000000002"
F1 = "11111111-0000-0000-0000-000000000001"

ISSUE_EXAMPLE = f"""
- intent: required
  group: {G1}
  filter: {{id: {F1}, mode: include}}
- intent: available
  target: all-users
- intent: required
  group: {G2}
  exclude: true
"""


def test_the_issue_example() -> None:
    parsed = parse_assignments(ISSUE_EXAMPLE)
    assert parsed == (
        Assignment("required", "groupAssignmentTarget", G1, F1, "include"),
        Assignment("available", "allLicensedUsersAssignmentTarget"),
        Assignment("required", "exclusionGroupAssignmentTarget", G2),
    )
    assert parsed[0].to_graph() == {
        "@odata.type": "#microsoft.graph.mobileAppAssignment", "intent": "required",
        "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": G1,
                   "deviceAndAppManagementAssignmentFilterId": F1,
                   "deviceAndAppManagementAssignmentFilterType": "include"},
        "settings": None}
    assert parsed[1].to_graph()["target"] == {
        "@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget",
        "deviceAndAppManagementAssignmentFilterId": None,
        "deviceAndAppManagementAssignmentFilterType": "none"}


def test_empty_input_means_not_given_and_an_empty_list_means_none() -> None:
    assert parse_assignments(None) is None
    assert parse_assignments("  \n") is None
    assert parse_assignments("[]") == ()
    single = parse_assignments("intent: Uninstall\ntarget: ALL-DEVICES")
    assert single == (Assignment("uninstall", "allDevicesAssignmentTarget"),)


@pytest.mark.parametrize(("text", "message"), [
    ("- intent: required\n  group: [", "not valid YAML at line"),
    ("just text", "must be a YAML list"),
    ("- 5", "entry 1 is not a mapping"),
    (f"- intent: mandatory\n  group: {G1}", "intent 'mandatory' is not one of"),
    ("- intent: required\n  group: 5", "group 5 is not a group object id or name"),
    ("- intent: required", "names no target"),
    (f"- intent: required\n  group: {G1}\n  target: all-users", "both a group and target"),
    ("- intent: required\n  target: all-users\n  exclude: true", "only a group can be excluded"),
    (f"- intent: required\n  group: {G1}\n  exclude: maybe", "exclude must be true or false"),
    (f"- intent: required\n  group: {G1}\n  exclude: true\n  filter: {{id: {F1}}}",
     "no assignment filter on an excluded group"),
    (f"- intent: required\n  group: {G1}\n  filter: {{id: nope}}", "filter id 'nope'"),
    (f"- intent: required\n  group: {G1}\n  filter: {{id: {F1}, mode: both}}", "mode 'both'"),
    (f"- intent: required\n  group: {G1}\n  filter: [{F1}]", "filter must be"),
    (f"- intent: required\n  group: {G1}\n  filter: {{id: {F1}, name: x}}", "filter must be"),
    (f"- intent: required\n  group: {G1}\n  settings: {{reboot: now}}", "unknown setting reboot"),
    (f"- intent: required\n  group: {G1}\n  settings: {{notifications: loud}}",
     "'loud' is not one of showAll, showReboot, hideAll"),
    (f"- intent: required\n  group: {G1}\n  settings: {{isRemovable: 'yes'}}",
     "must be true or false"),
    (f"- intent: required\n  group: {G1}\n  settings: {{restartSettings: {{grace: 5}}}}",
     "unknown key(s) grace"),
    (f"- intent: required\n  group: {G1}\n  settings: {{restartSettings: "
     "{gracePeriodInMinutes: -1}}", "whole number of minutes"),
    (f"- intent: required\n  group: {G1}\n  settings: {{installTimeSettings: "
     "{deadlineDateTime: soon}}", "'soon' is not a date and time"),
    (f"- intent: required\n  group: {G1}\n  settings: {{installTimeSettings: "
     "{startDateTime: '2026-07-02T00:00:00Z', deadlineDateTime: '2026-07-01T00:00:00Z'}}",
     "deadlineDateTime is before startDateTime"),
    ("- intent: required\n  group: Pilot\n- intent: available\n  group: pilot",
     "entries 1 and 2 both target"),
    (f"- intent: required\n  group: {G1}\n  groups: x", "unknown key(s) groups"),
    (f"- intent: required\n  group: {G1}\n- intent: uninstall\n  group: {G1.upper()}\n"
     "  exclude: true", "entries 1 and 2 both target"),
])
def test_refusals_name_the_entry_and_the_fix(text: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_assignments(text)
    line = caught.value.one_line()
    assert message in line and "Fix:" in line and "\n" not in line


def graph(intent: str, kind: str, group: str | None = None, **extra: object) -> dict:
    target: dict = {"@odata.type": f"#microsoft.graph.{kind}"}
    if group:
        target["groupId"] = group
    return {"id": f"{group or kind}_1_0", "intent": intent, "target": target,
            "source": "direct", "sourceId": None, **extra}


def test_merge_keeps_current_adds_new_and_changes_named_targets() -> None:
    current = [graph("required", "groupAssignmentTarget", G1,
                     settings={"@odata.type": "#microsoft.graph.iosLobAppAssignmentSettings",
                               "vpnConfigurationId": "v"}),
               graph("available", "allLicensedUsersAssignmentTarget"),
               graph("required", "someFutureTarget")]
    wanted = parse_assignments(f"- intent: uninstall\n  group: {G1}\n"
                               f"- intent: required\n  group: {G2}")
    result = diff(current, wanted, replace=False)
    assert [a.group_id for a in result.add] == [G2]
    assert [(a.intent, b.intent) for a, b in result.change] == [("required", "uninstall")]
    assert result.remove == () and result.keep == 2
    bodies = {b["target"]["@odata.type"]: b for b in result.body}
    assert len(result.body) == 4
    changed = next(b for b in result.body if b["target"].get("groupId") == G1)
    assert changed["intent"] == "uninstall"
    assert changed["settings"]["vpnConfigurationId"] == "v"  # portal settings survive
    assert "#microsoft.graph.someFutureTarget" in bodies  # kinds we do not know are kept
    assert all("id" not in b and "source" not in b for b in result.body)


def test_replace_removes_what_the_input_does_not_name() -> None:
    current = [graph("required", "groupAssignmentTarget", G1),
               graph("available", "allLicensedUsersAssignmentTarget")]
    result = diff(current, parse_assignments("- intent: available\n  target: all-users"),
                  replace=True)
    assert [a.group_id for a in result.remove] == [G1]
    assert result.add == () and result.change == () and result.keep == 1
    assert [b["target"]["@odata.type"] for b in result.body] == [
        "#microsoft.graph.allLicensedUsersAssignmentTarget"]
    assert result.lines() == [f"- required: group {G1}"]
    cleared = diff(current, None, replace=True)
    assert len(cleared.remove) == 2 and cleared.body == ()


def test_nothing_to_do_when_the_set_already_matches_or_no_input() -> None:
    current = [graph("required", "groupAssignmentTarget", G1)]
    assert diff(current, parse_assignments(f"- intent: required\n  group: {G1}"), False).empty
    untouched = diff(current, None, replace=False)
    assert untouched.empty and untouched.body == () and untouched.keep == 1


def test_a_filter_change_is_a_change() -> None:
    current = [graph("required", "groupAssignmentTarget", G1)]
    wanted = parse_assignments(f"- intent: required\n  group: {G1}\n  filter: {{id: {F1}}}")
    result = diff(current, wanted, replace=False)
    assert len(result.change) == 1
    assert result.to_json()["change"][0]["to"]["filterMode"] == "include"


def test_from_graph_reads_what_graph_returns() -> None:
    item = graph("Available", "groupAssignmentTarget", G1)
    item["target"]["deviceAndAppManagementAssignmentFilterType"] = "exclude"
    item["target"]["deviceAndAppManagementAssignmentFilterId"] = F1
    assert from_graph(item) == Assignment("available", "groupAssignmentTarget", G1, F1,
                                          "exclude")
    assert from_graph(graph("required", "unknownTarget")) is None


def test_names_stand_beside_ids_until_resolved() -> None:
    [entry] = parse_assignments("- intent: required\n  group: Pilot devices\n"
                                "  filter: {name: Corporate iPhones, mode: exclude}") or ()
    assert (entry.group_id, entry.group_name) == (None, "Pilot devices")
    assert (entry.filter_id, entry.filter_name, entry.filter_mode) == (
        None, "Corporate iPhones", "exclude")
    assert not entry.resolved
    [bare] = parse_assignments(f"- intent: required\n  group: {G1}\n  filter: {F1}") or ()
    assert (bare.filter_id, bare.filter_mode) == (F1, "include") and bare.resolved


WIN32_SETTINGS = """\
- intent: required
  group: {group}
  settings:
    notifications: hideall
    deliveryOptimizationPriority: foreground
    installTimeSettings: {{startDateTime: '2026-07-01T08:00:00Z',
                          deadlineDateTime: '2026-07-03T18:00:00Z', useLocalTime: true}}
    restartSettings: {{gracePeriodInMinutes: 1440, countdownDisplayBeforeRestartInMinutes: 15,
                      restartNotificationSnoozeDurationInMinutes: 240}}
    autoUpdateSettings: {{autoUpdateSupersededAppsState: enabled}}
"""


def test_win32_settings_become_graphs_settings_object() -> None:
    [entry] = parse_assignments(WIN32_SETTINGS.format(group=G1)) or ()
    settings = entry.graph_settings("win32LobApp", "beta")
    assert settings == {
        "@odata.type": "#microsoft.graph.win32LobAppAssignmentSettings",
        "notifications": "hideAll", "deliveryOptimizationPriority": "foreground",
        "installTimeSettings": {"startDateTime": "2026-07-01T08:00:00Z",
                                "deadlineDateTime": "2026-07-03T18:00:00Z",
                                "useLocalTime": True},
        "restartSettings": {"gracePeriodInMinutes": 1440,
                            "countdownDisplayBeforeRestartInMinutes": 15,
                            "restartNotificationSnoozeDurationInMinutes": 240},
        "autoUpdateSettings": {"autoUpdateSupersededAppsState": "enabled"},
    }


@pytest.mark.parametrize(("settings", "app_type", "version", "message"), [
    ("{notifications: hideAll}", "iosLobApp", "beta",
     "setting notifications does not apply to a iosLobApp (only to win32LobApp apps)"),
    ("{isRemovable: false}", "win32LobApp", "beta", "does not apply to a win32LobApp"),
    ("{isRemovable: false}", "macOSLobApp", "beta", "does not apply to a macOSLobApp"),
    ("{uninstallOnDeviceRemoval: true}", "androidLobApp", "beta",
     "does not apply to a androidLobApp (only to iosLobApp and macOSLobApp apps)"),
    ("{preventManagedAppBackup: true}", "iosLobApp", "v1.0", "needs graph-version beta"),
])
def test_a_setting_of_another_type_is_refused_naming_the_type(
        settings: str, app_type: str, version: str, message: str) -> None:
    [entry] = parse_assignments(f"- intent: required\n  group: {G1}\n  settings: {settings}") \
        or ()
    with pytest.raises(SettingsError) as caught:
        entry.graph_settings(app_type, version)
    assert message in caught.value.one_line()


def test_ios_and_macos_settings_pass_for_their_types() -> None:
    [ios] = parse_assignments(
        f"- intent: available\n  group: {G1}\n  settings: {{isRemovable: false, "
        "uninstallOnDeviceRemoval: true, preventManagedAppBackup: true, "
        f"vpnConfigurationId: {F1}}}") or ()
    assert ios.graph_settings("iosLobApp", "beta") == {
        "@odata.type": "#microsoft.graph.iosLobAppAssignmentSettings", "isRemovable": False,
        "uninstallOnDeviceRemoval": True, "preventManagedAppBackup": True,
        "vpnConfigurationId": F1}
    [mac] = parse_assignments(
        f"- intent: required\n  group: {G1}\n  settings: {{uninstallOnDeviceRemoval: true}}"
    ) or ()
    assert mac.graph_settings("macOSLobApp", "v1.0") == {
        "@odata.type": "#microsoft.graph.macOsLobAppAssignmentSettings",
        "uninstallOnDeviceRemoval": True}


def test_v1_targets_carry_no_filter_properties() -> None:
    # v1.0's groupAssignmentTarget has groupId only (learn.microsoft.com, graph-rest-1.0,
    # intune-shared-groupassignmenttarget): sending the filter properties is refused there.
    [entry] = parse_assignments(f"- intent: required\n  group: {G1}") or ()
    assert entry.to_graph(graph_version="v1.0")["target"] == {
        "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": G1}
