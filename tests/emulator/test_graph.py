"""Graph mobileApps: create-time validation, queries, paging, PATCH rules, assignments,
categories, error shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from intune_step.emulator import Emulator

from .helpers import Api, ios_body, lob_body, win32_body

APPS = "deviceAppManagement/mobileApps"
CATEGORIES = "deviceAppManagement/mobileAppCategories"

VALID_BODIES: dict[str, dict[str, Any]] = {
    "ios": ios_body(),
    "ios-capital-LOB": ios_body(**{"@odata.type": "microsoft.graph.iosLOBApp"}),
    "android": lob_body("androidLobApp"),
    "msi": lob_body("windowsMobileMSI"),
    "appx": lob_body("windowsUniversalAppX"),
    "win32": win32_body(),
    "win32-legacy": win32_body(rules=None) | {"detectionRules": [
        {"@odata.type": "#microsoft.graph.win32LobAppProductCodeDetection",
         "productCode": "{23170F69-40C1-2702-2301-000001000000}"}]},
    "pkg": lob_body("macOSPkgApp"),
    "dmg": lob_body("macOSDmgApp"),
    "maclob": lob_body("macOSLobApp"),
}  # fmt: skip
VALID_BODIES["win32-legacy"].pop("rules")

INVALID_BODIES: dict[str, tuple[dict[str, Any], str]] = {
    "no-type": ({"displayName": "x"}, "abstract"),
    "unknown-type": ({"@odata.type": "#microsoft.graph.fooApp", "displayName": "x"}, "resolved"),
    "not-lob": ({"@odata.type": "#microsoft.graph.webApp", "displayName": "x"}, "LOB apps only"),
    "no-name": (ios_body(displayName=""), "displayName"),
    "ios-no-bundle": (ios_body(bundleId=None), "bundleId"),
    "two-min-os": (ios_body(minimumSupportedOperatingSystem={"v9_0": True, "v10_0": True}),
                   "exactly one"),
    "android-int-code": (VALID_BODIES["android"] | {"versionCode": 10}, "versionCode"),
    "msi-no-code": (VALID_BODIES["msi"] | {"productCode": ""}, "productCode"),
    "appx-no-hash": (VALID_BODIES["appx"] | {"identityPublisherHash": None},
                     "identityPublisherHash"),
    "win32-no-rules": (win32_body(rules=[]), "at least one detection rule"),
    "win32-both": (win32_body(detectionRules=[]), "both"),
    "win32-no-filename": (win32_body(fileName=None), "fileName"),
    "win32-v10-release": (win32_body(minimumSupportedWindowsRelease="v10_1903"),
                          "minimumSupportedWindowsRelease"),
    "pkg-empty-bundle": (VALID_BODIES["pkg"] | {"primaryBundleId": ""}, "primaryBundleId"),
    "maclob-no-bundle": (lob_body("macOSLobApp", bundleId=None), "bundleId"),
}  # fmt: skip


def _message(response: Any) -> str:
    """The human text of a Graph error, unwrapping Intune's nested JSON message."""
    message = response.json()["error"]["message"]
    try:
        return json.loads(message)["Message"]
    except ValueError:
        return message


@pytest.mark.parametrize("name", sorted(VALID_BODIES))
def test_create_each_type(emu: Emulator, api: Api, name: str) -> None:
    entity = api.create_app(VALID_BODIES[name])
    assert entity["publishingState"] == "notPublished"
    assert entity["committedContentVersion"] is None
    assert entity["roleScopeTagIds"] == ["0"]
    assert entity["@odata.type"].startswith("#microsoft.graph.")
    assert emu.app(entity["id"])["id"] == entity["id"]


@pytest.mark.parametrize("name", sorted(INVALID_BODIES))
def test_create_rejects_invalid_bodies(emu: Emulator, api: Api, name: str) -> None:
    body, text = INVALID_BODIES[name]
    response = api.call("POST", APPS, body)
    assert response.status_code == 400, response.text
    assert text in _message(response)
    assert response.headers["request-id"] == response.json()["error"]["innerError"]["request-id"]
    assert emu.apps() == []


def test_intune_nested_error_format(emu: Emulator, api: Api) -> None:
    response = api.call("POST", APPS, win32_body(rules=[]))
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    inner = json.loads(error["message"])
    assert inner["_version"] == 3
    assert "Activity ID: " + response.headers["request-id"] in inner["Message"]
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}


def test_v1_rendering_has_no_beta_fields(emu: Emulator, api: Api) -> None:
    app = api.create_app()
    api.version = "v1.0"
    entity = api.ok("GET", f"{APPS}/{app['id']}")
    assert "roleScopeTagIds" not in entity and "isAssigned" not in entity
    assert entity["bundleId"] == "com.contoso.field"


def test_unknown_segment_and_version(emu: Emulator, api: Api) -> None:
    doubled = api.call("GET", "deviceAppManagement/deviceAppManagement/mobileApps")
    assert doubled.status_code == 400
    assert "segment 'deviceAppManagement'" in doubled.json()["error"]["message"]
    api.version = "v2.0"
    assert api.call("GET", APPS).status_code == 400
    api.version = "beta"
    missing = api.call("GET", f"{APPS}/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404


def test_filter_select_expand_and_paging(emu: Emulator, api: Api) -> None:
    for index in range(5):
        api.create_app(ios_body(displayName=f"Field {index}"))
    api.create_app(win32_body(displayName="7-Zip", notes="[WinTuner|Winget|7zip]"))
    api.create_app(VALID_BODIES["pkg"] | {"displayName": "Pkg Tool"})

    def names(filter_: str, **extra: str) -> list[str]:
        response = api.call("GET", APPS, params={"$filter": filter_, **extra})
        assert response.status_code == 200, response.text
        return sorted(a["displayName"] for a in response.json()["value"])

    assert names("isof('microsoft.graph.win32LobApp')") == ["7-Zip"]
    assert names("(isof('microsoft.graph.macOSDmgApp') or isof('microsoft.graph.macOSPkgApp'))"
                 " and displayName eq 'Pkg Tool'") == ["Pkg Tool"]  # fmt: skip
    assert names("contains(notes, '[WinTuner|') and isAssigned eq false") == ["7-Zip"]
    assert names("contains(tolower(displayName), 'field 3')") == ["Field 3"]
    assert names("displayName eq 'O''Brien'") == []
    assert len(names("isof('microsoft.graph.iosLobApp') and not (displayName eq 'Field 0')")) == 4
    assert names("microsoft.graph.managedApp/appAvailability eq null and "
                 "isof('microsoft.graph.win32LobApp')") == ["7-Zip"]  # fmt: skip

    for bad in ({"$filter": "bundleId eq 'x'"}, {"$select": "id,bundleId"},
                {"$filter": "displayName eq"}, {"$expand": "contentVersions"}):  # fmt: skip
        response = api.call("GET", APPS, params=bad)
        assert response.status_code == 400, bad

    selected = api.ok("GET", APPS, params={"$select": "id,displayName", "$top": "1"})
    assert set(selected["value"][0]) <= {"@odata.type", "id", "displayName"}

    url: str | None = f"{emu.graph_url}/beta/{APPS}?$orderby=displayName desc&$expand=categories"
    page = api.ok("GET", url)
    seen = [a["displayName"] for a in page["value"]]
    assert seen == sorted(seen, reverse=True) and len(seen) == 7
    assert "@odata.nextLink" not in page and all("categories" in a for a in page["value"])


@pytest.mark.emu(page_size=3)
def test_next_link_paging(emu: Emulator, api: Api) -> None:
    for index in range(7):
        api.create_app(ios_body(displayName=f"App {index}"))
    url: str | None = f"{emu.graph_url}/beta/{APPS}?$filter=isof('microsoft.graph.iosLobApp')"
    sizes = []
    names: list[str] = []
    while url:
        page = api.ok("GET", url)
        sizes.append(len(page["value"]))
        names += [a["displayName"] for a in page["value"]]
        url = page.get("@odata.nextLink")
    assert sizes == [3, 3, 1]
    assert sorted(names) == [f"App {i}" for i in range(7)]
    top = api.ok("GET", f"{APPS}?$top=4")
    assert len(top["value"]) == 3 and top["@odata.nextLink"]
    assert len(api.ok("GET", top["@odata.nextLink"])["value"]) == 1


def test_patch_rules(emu: Emulator, api: Api) -> None:
    app = api.create_app()
    path = f"{APPS}/{app['id']}"
    # Metadata PATCH with the matching type is fine; a different type is not.
    assert api.call("PATCH", path, {"@odata.type": "#microsoft.graph.iosLobApp",
                                    "versionNumber": "2.5"}).status_code == 204  # fmt: skip
    assert api.ok("GET", path)["versionNumber"] == "2.5"
    wrong = api.call("PATCH", path, {"@odata.type": "#microsoft.graph.androidLobApp"})
    assert wrong.status_code == 400
    # committedContentVersion must name a version whose file committed successfully.
    cv = api.ok("POST", f"{path}/microsoft.graph.iosLobApp/contentVersions", {}, 201)["id"]
    assert cv == "1"
    for body in ({"@odata.type": "#microsoft.graph.iosLobApp", "committedContentVersion": "1"},
                 {"@odata.type": "#microsoft.graph.iosLobApp", "committedContentVersion": "9"},
                 {"committedContentVersion": "1"}):  # fmt: skip
        assert api.call("PATCH", path, body).status_code == 400, body
    assert api.ok("GET", path)["publishingState"] == "notPublished"
    assert api.call("DELETE", path).status_code == 204
    assert emu.apps() == []


def test_categories_and_assignments(emu: Emulator, api: Api) -> None:
    upload = api.full_upload(b"payload")
    path = f"{APPS}/{upload.app_id}"
    existing = api.ok("GET", CATEGORIES, params={"$filter": "displayName eq 'Business'"})
    assert [c["displayName"] for c in existing["value"]] == ["Business"]
    created = api.ok("POST", CATEGORIES, {"displayName": "Field tools"}, 201)
    for category in (existing["value"][0], created):
        ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/{CATEGORIES}/{category['id']}"}
        assert api.call("POST", f"{path}/categories/$ref", ref).status_code == 204
    listed = api.ok("GET", f"{path}/categories")["value"]
    assert {c["displayName"] for c in listed} == {"Business", "Field tools"}
    missing = {"@odata.id": f"https://graph.microsoft.com/beta/{CATEGORIES}/nope"}
    assert api.call("POST", f"{path}/categories/$ref", missing).status_code == 404

    group = "11111111-2222-3333-4444-555555555555"
    assignment = {
        "@odata.type": "#microsoft.graph.mobileAppAssignment",
        "intent": "required",
        "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group},
        "settings": None,
    }
    assign = api.call("POST", f"{path}/assign", {"mobileAppAssignments": [assignment] * 2})
    assert assign.status_code == 200 and assign.content == b""
    assert len(api.ok("GET", f"{path}/assignments")["value"]) == 2
    # assign replaces the whole set
    all_devices = {
        **assignment,
        "intent": "available",
        "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"},
    }
    api.call("POST", f"{path}/assign", {"mobileAppAssignments": [all_devices]})
    app = emu.app(upload.app_id)
    assert [a["intent"] for a in app["assignments"]] == ["available"]
    assert app["isAssigned"] is True
    assert {c["displayName"] for c in app["categories"]} == {"Business", "Field tools"}
    one = api.ok("POST", f"{path}/assignments", assignment, 201)
    assert api.call("DELETE", f"{path}/assignments/{one['id']}").status_code == 204
    bad_target = {**assignment, "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget"}}
    assert (
        api.call("POST", f"{path}/assign", {"mobileAppAssignments": [bad_target]}).status_code
        == 400
    )
    expanded = api.ok("GET", path, params={"$expand": "categories,assignments"})
    assert len(expanded["categories"]) == 2 and len(expanded["assignments"]) == 1


def test_assign_requires_published(emu: Emulator, api: Api) -> None:
    app = api.create_app()
    response = api.call("POST", f"{APPS}/{app['id']}/assign", {"mobileAppAssignments": []})
    assert response.status_code == 400
    assert "publishingState" in _message(response)
