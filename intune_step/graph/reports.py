"""Intune's reports: the per-device install status export and the app's overview.

The per-app status endpoints (installSummary, deviceStatuses, userStatuses) were deprecated in
May 2023; what reports installs now is the export API (docs/protocol.md, "Reports"): create a
DeviceInstallStatusByApp job filtered on the app, poll it until ``completed``, download the ZIP
of CSV its ``url`` names (a storage URL: no bearer token goes there) and read the rows.
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from intune_step.errors import GraphError, PermissionDeniedError, ServiceError
from intune_step.graph.client import GraphClient
from intune_step.transport.http import safe_url

EXPORT_JOBS = "deviceManagement/reports/exportJobs"
OVERVIEW = "deviceManagement/reports/getAppStatusOverviewReport"
REPORT = "DeviceInstallStatusByApp"
# Chosen explicitly: Microsoft warns that a report's default columns may change.
COLUMNS = ("DeviceName", "UserPrincipalName", "Platform", "AppVersion", "DeviceId",
           "LastModifiedDateTime", "AppInstallState", "AppInstallStateDetails", "HexErrorCode")
# Documented for POST exportJobs (application permissions); any one of them will do.
EXPORT_ROLES = ("DeviceManagementApps.ReadWrite.All", "DeviceManagementConfiguration.ReadWrite.All",
                "DeviceManagementManagedDevices.ReadWrite.All")
GROUP_ROLE = "Group.Read.All"  # or GroupMember.Read.All, Directory.Read.All
MAX_EXPORT_BYTES = 256 << 20  # a report of a very large fleet, still far below this


@dataclass(frozen=True)
class DeviceRow:
    """One device's line of the DeviceInstallStatusByApp report."""

    device: str
    user: str
    platform: str
    version: str
    state: str  # the raw AppInstallState value (a number, as text)
    state_text: str  # AppInstallState_loc: what the admin center shows
    detail: str
    error_code: str
    modified: str
    device_id: str = ""


class ExportPending(Exception):
    """The export job did not complete before the caller's deadline."""


class ExportFailed(ServiceError):
    """Intune ended an export job ``failed``."""


def app_filter(app_id: str) -> str:
    return f"(ApplicationId eq '{app_id}')"


class Reports:
    """The report calls the install gate makes; ``sleep``/``clock`` are seams for tests."""

    def __init__(self, graph: GraphClient, http: httpx.Client, poll: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._graph, self._http, self._poll = graph, http, poll
        self._sleep, self._clock = sleep, clock

    def device_statuses(self, app_id: str, deadline: float) -> list[DeviceRow]:
        """Every device row of the app's install report; ExportPending past ``deadline``."""
        body = {"reportName": REPORT, "filter": app_filter(app_id), "select": list(COLUMNS),
                "format": "csv", "localizationType": "LocalizedValuesAsAdditionalColumn"}
        job = _permission(lambda: self._graph.post(EXPORT_JOBS, body,
                                                   what="create the install status export"),
                          EXPORT_ROLES) or {}
        job_id = str(job.get("id") or "")
        if not job_id:
            raise ServiceError("Intune accepted the install status export without a job id",
                               fix="re-run the step; if it persists, report it")
        while True:
            status = str(job.get("status") or "")
            if status == "completed":
                return read_export(self._download(str(job.get("url") or ""), job_id))
            if status == "failed":
                raise ExportFailed(f"Intune's install status export {job_id} failed",
                                   fix="re-run the step; if it persists, export the report from "
                                       "the admin center to see why")
            if self._clock() >= deadline:
                raise ExportPending(job_id)
            self._sleep(max(0.0, min(self._poll, deadline - self._clock())))
            job = _permission(lambda: self._graph.get(f"{EXPORT_JOBS}('{job_id}')",
                                                      what="read the export job"), EXPORT_ROLES)

    def overview(self, app_id: str) -> dict[str, Any] | None:
        """The app's overview counts (all versions) where the service answers; else None."""
        try:
            table = self._graph.post(OVERVIEW, {"filter": app_filter(app_id)},
                                     what="read the app status overview")
        except GraphError as exc:
            # Optional and only logged: beta-only, without a documented permission.
            if exc.status in (400, 403, 404):
                return None
            raise
        return first_row(table or {})

    def group_members(self, group_id: str) -> tuple[set[str], set[str]]:
        """(user principal names, device names) of the group's members, nested included."""
        users: set[str] = set()
        devices: set[str] = set()
        members = _permission(lambda: list(self._graph.get_all(
            f"groups/{group_id}/transitiveMembers",
            params={"$select": "id,displayName,userPrincipalName"},
            what=f"list the members of group {group_id}")), (GROUP_ROLE,))
        for member in members or []:
            kind = str(member.get("@odata.type") or "")
            if kind.endswith(".user") and member.get("userPrincipalName"):
                users.add(str(member["userPrincipalName"]).lower())
            elif kind.endswith(".device") and member.get("displayName"):
                devices.add(str(member["displayName"]).lower())
        return users, devices

    def _download(self, url: str, job_id: str) -> bytes:
        target = httpx.URL(url) if url else None
        if target is None or target.scheme != "https":
            raise ServiceError(f"export job {job_id} completed without an https download URL",
                               fix="re-run the step; if it persists, report it")
        try:  # a SAS URL: the signature is the authorisation, so no bearer token goes along
            response = self._http.get(url)
        except httpx.HTTPError as exc:
            raise ServiceError(f"downloading export {job_id} from {safe_url(target)} failed: "
                               f"{type(exc).__name__}",
                               fix="check network access to Azure Storage; re-run") from exc
        if response.status_code != 200:
            raise ServiceError(f"downloading export {job_id} answered HTTP "
                               f"{response.status_code}",
                               fix="the link expires after a while; re-run the step")
        if len(response.content) > MAX_EXPORT_BYTES:
            raise ServiceError(f"export {job_id} is larger than {MAX_EXPORT_BYTES >> 20} MiB")
        return response.content


def _permission(call: Callable[[], Any], roles: tuple[str, ...]) -> Any:
    """Run a report call; a 403 names the permission that call needs."""
    try:
        return call()
    except PermissionDeniedError as exc:
        needed = " or ".join(roles)
        exc.fix = (f"grant the application permission {needed} to the app registration and "
                   "'Grant admin consent'; `intune-step check` lists what the token carries")
        exc.message = f"{exc.message} (this call needs {needed})"
        exc.args = (exc.message,)
        raise


def read_export(data: bytes) -> list[DeviceRow]:
    """The rows of an export file: a ZIP holding one CSV (UTF-8, a BOM allowed)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(names) != 1:
                raise ServiceError(f"the export file holds {len(names)} CSV files, not one")
            info = archive.getinfo(names[0])
            if info.file_size > MAX_EXPORT_BYTES:
                raise ServiceError("the export's CSV is too large to read")
            text = archive.read(info).decode("utf-8-sig")
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise ServiceError(f"the export file is not a ZIP of UTF-8 CSV ({exc})",
                           fix="re-run the step; if it persists, report it") from exc
    rows = []
    for line in csv.DictReader(io.StringIO(text)):
        def cell(name: str, record: dict[str, str | None] = line) -> str:
            return (record.get(name) or "").strip()

        rows.append(DeviceRow(
            device=cell("DeviceName"), user=cell("UserPrincipalName"),
            platform=cell("Platform_loc") or cell("Platform"), version=cell("AppVersion"),
            state=cell("AppInstallState"), state_text=cell("AppInstallState_loc"),
            detail=cell("AppInstallStateDetails_loc") or cell("AppInstallStateDetails"),
            error_code=cell("HexErrorCode"), modified=cell("LastModifiedDateTime"),
            device_id=cell("DeviceId")))
    return rows


def first_row(table: dict[str, Any]) -> dict[str, Any] | None:
    """A report action's table ({"Schema": [{"Column": ...}], "Values": [[...]]}) as the
    first row's column -> value, or None when it has no rows."""
    schema = [str(c.get("Column")) for c in table.get("Schema") or [] if isinstance(c, dict)]
    values = table.get("Values") or []
    if not schema or not values or not isinstance(values[0], list):
        return None
    return dict(zip(schema, values[0], strict=False))
