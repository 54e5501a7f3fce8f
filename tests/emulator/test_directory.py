"""Groups, assignment filters, their permissions, and assignment bodies judged by the models.

Each rule cites the Microsoft document that states it:
- List groups: https://learn.microsoft.com/graph/api/group-list (application permissions
  GroupMember.Read.All, Group.Read.All, Directory.Read.All; `$filter=displayName eq '...'`;
  403 Authorization_RequestDenied "Insufficient privileges to complete the operation.").
- List deviceAndAppManagementAssignmentFilters: https://learn.microsoft.com/graph/api/
  intune-policyset-deviceandappmanagementassignmentfilter-list?view=graph-rest-beta
  (beta only; DeviceManagementConfiguration.Read.All or .ReadWrite.All; `platform` is a
  devicePlatformType).
- mobileAppAssignment and its settings: https://learn.microsoft.com/graph/api/resources/
  intune-apps-mobileappassignment, intune-apps-win32lobappassignmentsettings,
  intune-apps-ioslobappassignmentsettings, intune-apps-macoslobappassignmentsettings;
  v1.0's groupAssignmentTarget has groupId only (intune-shared-groupassignmenttarget).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from intune_step.emulator import Emulator
from intune_step.emulator.config import FILTER_READ_ROLE, GROUP_READ_ROLE, READ_WRITE_ROLE

from .helpers import Api

APPS = "deviceAppManagement/mobileApps"
FILTERS = "deviceManagement/assignmentFilters"
GROUP = "11111111-2222-3333-4444-555555555555"


def _message(response: httpx.Response) -> str:
    message = str(response.json()["error"]["message"])
    try:
        return str(json.loads(message)["Message"])
    except ValueError:
        return message


def _assignment(**settings: Any) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.mobileAppAssignment", "intent": "required",
            "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget",
                       "groupId": GROUP}, "settings": settings or None}


@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_groups_by_display_name_on_both_versions(emu: Emulator, http: httpx.Client,
                                                 version: str) -> None:
    pilot = emu.add_group("Pilot devices")
    emu.add_group("All staff")
    api = Api(emu, http, version)
    found = api.ok("GET", "groups", params={"$filter": "displayName eq 'Pilot devices'",
                                            "$select": "id,displayName"})
    assert [(g["id"], g["displayName"]) for g in found["value"]] == [(pilot, "Pilot devices")]
    assert api.ok("GET", f"groups/{pilot}")["displayName"] == "Pilot devices"
    assert api.call("GET", "groups/nope").status_code == 404
    quoted = api.ok("GET", "groups", params={"$filter": "displayName eq 'O''Brien'"})
    assert quoted["value"] == []


def test_two_groups_may_share_a_name(emu: Emulator, api: Api) -> None:
    emu.add_group("Pilot")
    emu.add_group("Pilot")
    found = api.ok("GET", "groups", params={"$filter": "displayName eq 'Pilot'"})
    assert len(found["value"]) == 2


def test_group_filter_syntax_errors_are_400(emu: Emulator, api: Api) -> None:
    response = api.call("GET", "groups", params={"$filter": "displayName eq"})
    assert response.status_code == 400
    response = api.call("GET", "groups", params={"$select": "secret"})
    assert response.status_code == 400


@pytest.mark.emu(roles=(READ_WRITE_ROLE, FILTER_READ_ROLE))
def test_groups_need_a_directory_permission(emu: Emulator, api: Api) -> None:
    response = api.call("GET", "groups")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "Authorization_RequestDenied"
    assert error["message"] == "Insufficient privileges to complete the operation."


def test_filters_list_with_platform_and_are_beta_only(emu: Emulator, http: httpx.Client) -> None:
    ios = emu.add_filter("Corporate iPhones", "iOS")
    emu.add_filter("Windows kiosks", "windows10AndLater")
    beta = Api(emu, http, "beta")
    listed = beta.ok("GET", FILTERS)["value"]
    assert {(f["displayName"], f["platform"]) for f in listed} == {
        ("Corporate iPhones", "iOS"), ("Windows kiosks", "windows10AndLater")}
    assert beta.ok("GET", f"{FILTERS}/{ios}")["platform"] == "iOS"
    assert beta.call("GET", f"{FILTERS}/nope").status_code == 404
    v1 = Api(emu, http, "v1.0")
    response = v1.call("GET", FILTERS)
    assert response.status_code == 400 and "assignmentFilters" in _message(response)
    with pytest.raises(ValueError, match="platform must be one of"):
        emu.add_filter("Bad", "ios")  # devicePlatformType members are case-exact: iOS


@pytest.mark.emu(roles=(READ_WRITE_ROLE, GROUP_READ_ROLE))
def test_filters_need_device_management_configuration_read(emu: Emulator, api: Api) -> None:
    response = api.call("GET", FILTERS)
    assert response.status_code == 403
    assert FILTER_READ_ROLE in _message(response)


def test_assignment_settings_are_judged_by_the_model(emu: Emulator, api: Api) -> None:
    upload = api.full_upload(b"payload")  # an iosLobApp
    path = f"{APPS}/{upload.app_id}/assign"
    good = _assignment(**{"@odata.type": "#microsoft.graph.iosLobAppAssignmentSettings",
                          "isRemovable": False, "uninstallOnDeviceRemoval": True})
    assert api.call("POST", path, {"mobileAppAssignments": [good]}).status_code == 200
    unknown = _assignment(**{"@odata.type": "#microsoft.graph.iosLobAppAssignmentSettings",
                             "removable": False})
    response = api.call("POST", path, {"mobileAppAssignments": [unknown]})
    assert response.status_code == 400 and "'removable' does not exist" in _message(response)
    wrong_kind = _assignment(**{"@odata.type": "#microsoft.graph.iosLobAppAssignmentSettings",
                                "isRemovable": "no"})
    response = api.call("POST", path, {"mobileAppAssignments": [wrong_kind]})
    assert response.status_code == 400 and "Edm.Boolean" in _message(response)
    foreign = _assignment(**{"@odata.type": "#microsoft.graph.win32LobAppAssignmentSettings",
                             "notifications": "hideAll"})
    response = api.call("POST", path, {"mobileAppAssignments": [foreign]})
    assert response.status_code == 400
    assert "does not apply to an app of type '#microsoft.graph.iosLobApp'" in _message(response)


def test_win32_settings_enums_are_checked(emu: Emulator, api: Api) -> None:
    upload = api.full_upload(b"payload")  # the body is judged before the app's type
    path = f"{APPS}/{upload.app_id}/assign"
    bad = _assignment(**{"@odata.type": "#microsoft.graph.win32LobAppAssignmentSettings",
                         "notifications": "loud"})
    response = api.call("POST", path, {"mobileAppAssignments": [bad]})
    assert response.status_code == 400
    assert "microsoft.graph.win32LobAppNotification" in _message(response)


def test_v1_targets_refuse_filter_properties(emu: Emulator, http: httpx.Client) -> None:
    beta = Api(emu, http, "beta")
    upload = beta.full_upload(b"payload")
    v1 = Api(emu, http, "v1.0")
    item = _assignment()
    item["target"]["deviceAndAppManagementAssignmentFilterType"] = "none"
    response = v1.call("POST", f"{APPS}/{upload.app_id}/assign", {"mobileAppAssignments": [item]})
    assert response.status_code == 400
    assert "deviceAndAppManagementAssignmentFilterType" in _message(response)
    response = beta.call("POST", f"{APPS}/{upload.app_id}/assign",
                         {"mobileAppAssignments": [item]})
    assert response.status_code == 200
