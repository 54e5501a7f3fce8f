"""Export jobs, their download and the overview report, against the simulated fleet.

Each rule is one Microsoft documents (docs/protocol.md, "Reports"):
- POST deviceManagement/reports/exportJobs creates a deviceManagementExportJob (201,
  ``notStarted``); the job is polled at exportJobs('{id}') until ``completed`` and its ``url``
  is a ZIP holding the CSV; statuses are unknown, notStarted, inProgress, completed, failed
  (learn.microsoft.com/intune/intune-service/fundamentals/reports-export-graph-apis,
  learn.microsoft.com/graph/api/resources/intune-reporting-devicemanagementexportjob);
- ``reportName`` is required; DeviceInstallStatusByApp has fixed columns and requires the
  ApplicationId filter (…/fundamentals/reports-export-graph-available-reports);
- creating a job needs DeviceManagementConfiguration/Apps/ManagedDevices.ReadWrite.All, reading
  one accepts their Read.All too
  (learn.microsoft.com/graph/api/intune-reporting-devicemanagementexportjob-create,
  …/intune-reporting-devicemanagementexportjob-get);
- listing a group's transitiveMembers needs GroupMember.Read.All, Group.Read.All or
  Directory.Read.All (learn.microsoft.com/graph/api/group-list-transitivemembers).
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from typing import Any

import httpx
import pytest

from intune_step.emulator import Emulator
from intune_step.emulator.config import READ_ROLE, READ_WRITE_ROLE
from intune_step.emulator.fleet import FleetDevice

from .helpers import Api, ios_body

JOBS = "deviceManagement/reports/exportJobs"
GROUP = "11111111-2222-3333-4444-555555555555"
FLEET = (
    FleetDevice("ipad-ok", "iOS", (GROUP,), "ada@contoso.com"),
    FleetDevice("ipad-bad", "iOS", (GROUP,), "bob@contoso.com", outcome="failed",
                error_code="0x87D13B9F"),
    FleetDevice("ipad-wait", "iOS", (GROUP,), "cy@contoso.com", outcome="pending"),
    FleetDevice("pixel", "Android", (GROUP,), "dee@contoso.com"),
    FleetDevice("other", "iOS", ("99999999-2222-3333-4444-555555555555",), "eve@contoso.com"),
)
RELAXED = pytest.mark.emu(fleet=FLEET, require_published_for_assign=False)


def assigned_app(api: Api) -> str:
    app_id = str(api.create_app(ios_body(versionNumber="3.1", buildNumber="310"))["id"])
    target = {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": GROUP}
    api.call("POST", f"deviceAppManagement/mobileApps/{app_id}/assign",
             {"mobileAppAssignments": [{"@odata.type": "#microsoft.graph.mobileAppAssignment",
                                        "intent": "required", "target": target}]})
    return app_id


def job_body(app_id: str, **overrides: Any) -> dict[str, Any]:
    body = {"reportName": "DeviceInstallStatusByApp",
            "filter": f"(ApplicationId eq '{app_id}')",
            "select": ["DeviceName", "UserPrincipalName", "AppVersion", "AppInstallState",
                       "HexErrorCode"],
            "format": "csv", "localizationType": "LocalizedValuesAsAdditionalColumn"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def poll(api: Api, job_id: str, tries: int = 10) -> dict[str, Any]:
    seen = []
    for _ in range(tries):
        job = api.ok("GET", f"{JOBS}('{job_id}')")
        seen.append(job["status"])
        if job["status"] in ("completed", "failed"):
            job["seen"] = seen
            return job
    job["seen"] = seen
    return job


def error_of(response: httpx.Response) -> str:
    return str(response.json()["error"]["message"])


@RELAXED
def test_an_export_runs_through_its_states_to_a_zip_of_csv(emu: Emulator, api: Api) -> None:
    app_id = assigned_app(api)
    created = api.ok("POST", JOBS, job_body(app_id), 201)
    assert created["status"] == "notStarted" and created["url"] is None
    assert created["id"].startswith("DeviceInstallStatusByApp_")
    job = poll(api, created["id"])
    assert job["seen"] == ["inProgress", "completed"]
    assert job["url"].startswith(emu.blob_url) and "sig=" in job["url"]
    download = api.http.get(job["url"])  # no bearer: the signature is the authorisation
    assert download.status_code == 200
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        [name] = archive.namelist()
        assert name == f"{created['id']}.csv"
        rows = list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig"))))
    assert list(rows[0]) == ["DeviceName", "UserPrincipalName", "AppVersion", "AppInstallState",
                             "AppInstallState_loc", "HexErrorCode"]
    by_name = {r["DeviceName"]: r for r in rows}
    assert set(by_name) == {"ipad-ok", "ipad-bad", "ipad-wait", "pixel"}  # "other": not targeted
    assert by_name["ipad-ok"]["AppInstallState_loc"] == "Installed"
    assert by_name["ipad-ok"]["AppVersion"] == "3.1 (310)"
    assert by_name["ipad-bad"]["HexErrorCode"] == "0x87D13B9F"
    assert by_name["ipad-wait"]["AppInstallState_loc"] == "Install Pending"
    assert by_name["pixel"]["AppInstallState_loc"] == "Not Applicable"


@RELAXED
def test_the_download_needs_its_signature(emu: Emulator, api: Api) -> None:
    job = poll(api, api.ok("POST", JOBS, job_body(assigned_app(api)), 201)["id"])
    tampered = job["url"].replace("sig=", "sig=x")
    assert api.http.get(tampered).status_code == 403
    missing = job["url"].split("?")[0]
    assert api.http.get(missing).status_code == 403
    assert api.http.get(f"{emu.blob_url}/reportexports/nothing.zip?sig=x").status_code == 404


@RELAXED
def test_the_overview_counts_every_state(api: Api) -> None:
    app_id = assigned_app(api)
    response = api.call("POST", "deviceManagement/reports/getAppStatusOverviewReport",
                        {"filter": f"(ApplicationId eq '{app_id}')"})
    assert response.status_code == 200
    table = response.json()
    row = dict(zip([c["Column"] for c in table["Schema"]], table["Values"][0], strict=True))
    assert row["InstalledDeviceCount"] == 1 and row["FailedDeviceCount"] == 1
    assert row["PendingInstallDeviceCount"] == 1 and row["NotApplicableDeviceCount"] == 1


@pytest.mark.parametrize(("overrides", "message"), [
    ({"filter": None}, "must include ApplicationId"),
    ({"filter": "(AppInstallState eq '2')"}, "must include ApplicationId"),
    ({"filter": "ApplicationId eq 'x'"}, "Invalid filter"),
    ({"filter": "(DeviceName eq 'x')"}, "Invalid filter column"),
    ({"reportName": None}, "reportName is required"),
    ({"reportName": "DeviceInstallStatusByAppX"}, "Invalid report name"),
    ({"select": ["DeviceName", "Colour"]}, "Invalid select column"),
    ({"format": "xlsx"}, "Invalid format"),
    ({"localizationType": "English"}, "Invalid localizationType"),
    ({"top": 5}, "does not exist on type"),
])
@RELAXED
def test_a_bad_export_request_is_refused(api: Api, overrides: dict[str, Any],
                                         message: str) -> None:
    response = api.call("POST", JOBS, job_body("0f2a0000-0000-0000-0000-000000000e11",
                                                **overrides))
    assert response.status_code == 400, response.text
    assert message in error_of(response)


def test_an_unknown_job_is_not_found(api: Api) -> None:
    response = api.call("GET", f"{JOBS}('DeviceInstallStatusByApp_nope')")
    assert response.status_code == 404
    assert api.call("DELETE", f"{JOBS}('x')").status_code == 405
    assert api.call("POST", "deviceManagement/reports/nothingHere", {}).status_code == 400
    assert api.call("GET", "deviceManagement/somethingElse").status_code == 400


@pytest.mark.emu(roles=("DeviceManagementApps.Read.All",))
def test_creating_an_export_needs_a_readwrite_permission(api: Api) -> None:
    response = api.call("POST", JOBS, job_body("0f2a0000-0000-0000-0000-000000000e11"))
    assert response.status_code == 403
    assert "DeviceManagementApps.ReadWrite.All" in error_of(response)


@pytest.mark.emu(roles=("Group.Read.All",))
def test_reading_an_export_needs_an_intune_permission(api: Api) -> None:
    assert api.call("GET", f"{JOBS}('x')").status_code == 403
    assert api.call("POST", "deviceManagement/reports/getAppStatusOverviewReport",
                    {"filter": "(ApplicationId eq 'x')"}).status_code == 403


@pytest.mark.emu(fleet=FLEET)
def test_group_members_need_a_group_permission(emu: Emulator, api: Api) -> None:
    emu.set_roles((READ_WRITE_ROLE, READ_ROLE))  # an app registration without Group.Read.All
    api = Api(emu, api.http)
    response = api.call("GET", f"groups/{GROUP}/transitiveMembers")
    assert response.status_code == 403
    assert "Group.Read.All" in error_of(response)
    emu.set_roles(("Group.Read.All",))
    allowed = Api(emu, api.http)
    names = {m["displayName"] for m in allowed.ok("GET", f"groups/{GROUP}/transitiveMembers")
             ["value"]}
    assert names == {"ipad-ok", "ipad-bad", "ipad-wait", "pixel"}
    assert allowed.call("GET", "groups/00000000-0000-0000-0000-000000000000/transitiveMembers"
                        ).status_code == 404


@RELAXED
def test_fault_a_job_that_fails(emu: Emulator, api: Api) -> None:
    emu.fail_next_report()
    job = poll(api, api.ok("POST", JOBS, job_body(assigned_app(api)), 201)["id"])
    assert job["status"] == "failed" and job["url"] is None
    again = poll(api, api.ok("POST", JOBS, job_body(assigned_app(api)), 201)["id"])
    assert again["status"] == "completed"  # one-shot


@RELAXED
def test_fault_a_job_that_never_completes(emu: Emulator, api: Api) -> None:
    emu.fail_next_report(never=True)
    job = poll(api, api.ok("POST", JOBS, job_body(assigned_app(api)), 201)["id"], tries=5)
    assert job["seen"] == ["inProgress"] * 5


@pytest.mark.emu(fleet=(FleetDevice("slow", "iOS", (GROUP,), after_s=0.3),),
                 require_published_for_assign=False)
def test_a_device_installs_after_its_simulated_time(api: Api) -> None:
    app_id = assigned_app(api)

    def state() -> str:
        table = api.ok("POST", "deviceManagement/reports/getAppStatusOverviewReport",
                       {"filter": f"(ApplicationId eq '{app_id}')"})
        row = dict(zip([c["Column"] for c in table["Schema"]], table["Values"][0], strict=True))
        return "installed" if row["InstalledDeviceCount"] else "pending"

    assert state() == "pending"
    time.sleep(0.4)
    assert state() == "installed"


def target(kind: str, group: str | None = None, intent: str = "required") -> dict[str, Any]:
    body: dict[str, Any] = {"@odata.type": f"#microsoft.graph.{kind}"}
    if group:
        body["groupId"] = group
    return {"intent": intent, "target": body}


@pytest.mark.parametrize(("assignments", "targeted"), [
    ([target("groupAssignmentTarget", GROUP)], True),
    ([target("groupAssignmentTarget", GROUP, intent="available")], False),  # offered, not pushed
    ([target("groupAssignmentTarget", GROUP, intent="uninstall")], False),
    ([target("allDevicesAssignmentTarget")], True),
    ([target("allLicensedUsersAssignmentTarget")], True),
    ([target("allDevicesAssignmentTarget"),
      target("exclusionGroupAssignmentTarget", GROUP, intent="required")], False),
    ([target("groupAssignmentTarget", "99999999-2222-3333-4444-555555555555")], False),
    ([], False),
])
def test_which_devices_a_build_reaches(assignments: list[dict[str, Any]], targeted: bool) -> None:
    from intune_step.emulator.fleet import Fleet

    fleet = Fleet((FLEET[0],))
    assert fleet.targeted(FLEET[0], assignments) is targeted


def test_a_device_without_a_user_is_no_licensed_user() -> None:
    from intune_step.emulator.fleet import Fleet

    kiosk = FleetDevice("kiosk", "Windows", (GROUP,))
    assert Fleet((kiosk,)).targeted(kiosk, [target("allLicensedUsersAssignmentTarget")]) is False
