"""``/deviceManagement/reports``: export jobs, their download, and the app status overview.

As docs/protocol.md, "Reports" describes: POST exportJobs creates a job (``notStarted``), it
runs (``inProgress``) and ends ``completed`` with a ``url`` to a ZIP of one CSV on a storage
host (served by the blob listener, signature in the query), or ``failed``. DeviceInstallStatusByApp
requires the filter ``(ApplicationId eq '<id>')``. Each call checks the application
permissions Microsoft documents for it. Also ``/groups/{id}/transitiveMembers`` of the fleet.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import time
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .config import READ_ROLE, READ_WRITE_ROLE, EmulatorConfig
from .fleet import Fleet
from .graph_common import Ctx, HttpError, bad_request, method_not_allowed, segment_error
from .server import Response
from .state import State
from .wire import blob_error, blob_headers, iso, utcnow

REPORTS = {
    "DeviceInstallStatusByApp": (
        ("DeviceName", "UserPrincipalName", "UserName", "Platform", "AppVersion", "DeviceId",
         "AssignmentFilterIdsExist", "LastModifiedDateTime", "AppInstallState",
         "AppInstallStateDetails", "HexErrorCode"),
        ("ApplicationId", "AppInstallState", "HexErrorCode"),
    ),
}
LOCALIZED = {"AppInstallState", "AppInstallStateDetails", "Platform"}
REQUIRED_FILTER = {"DeviceInstallStatusByApp": "ApplicationId"}
JOB_PROPERTIES = {"@odata.type", "id", "reportName", "filter", "select", "format", "snapshotId",
                  "localizationType", "search", "status", "url", "requestDateTime",
                  "expirationDateTime"}
FORMATS = ("csv", "json")
LOCALIZATION = ("LocalizedValuesAsAdditionalColumn", "ReplaceLocalizableValues")
# Application permissions per call, as Microsoft's API pages list them.
CONFIG_RW, DEVICES_RW = ("DeviceManagementConfiguration.ReadWrite.All",
                         "DeviceManagementManagedDevices.ReadWrite.All")
CREATE_ROLES = (CONFIG_RW, READ_WRITE_ROLE, DEVICES_RW)
READ_ROLES = ("DeviceManagementConfiguration.Read.All", CONFIG_RW, READ_ROLE, READ_WRITE_ROLE,
              "DeviceManagementManagedDevices.Read.All", DEVICES_RW)
OVERVIEW_ROLES = (READ_ROLE, READ_WRITE_ROLE)
MEMBER_ROLES = ("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All")
ALL_ROLES = (*READ_ROLES, *MEMBER_ROLES)  # require_roles off: every call allowed
TERM = re.compile(r"\(\s*(\w+)\s+eq\s+'([^']*)'\s*\)")
DOWNLOAD_PREFIX = "reportexports/"


@dataclass
class ExportJob:
    id: str
    body: dict[str, Any]
    requested: str
    status: str = "notStarted"
    polls: int = 0
    url: str | None = None
    expires: str = "0001-01-01T00:00:00Z"
    fault: str | None = None  # failed | never


def require_roles(roles: tuple[str, ...], needed: tuple[str, ...]) -> None:
    if not set(needed) & set(roles):
        raise HttpError(
            403, "Forbidden",
            "Application is not authorized to perform this operation. Application must have "
            f"one of the following scopes: {', '.join(needed)}")


def parse_filter(text: str, allowed: tuple[str, ...]) -> dict[str, str]:
    """A report filter: ``(Column eq 'value')`` terms joined by ``and``."""
    terms: dict[str, str] = {}
    rest = text.strip()
    while rest:
        match = TERM.match(rest)
        if match is None:
            raise bad_request(f"Invalid filter: '{text}'.", nested=False)
        if match.group(1) not in allowed:
            raise bad_request(f"Invalid filter column '{match.group(1)}'.", nested=False)
        terms[match.group(1)] = match.group(2)
        rest = rest[match.end():].strip()
        if rest:
            if not rest.lower().startswith("and "):
                raise bad_request(f"Invalid filter: '{text}'.", nested=False)
            rest = rest[4:].strip()
    return terms


class ReportsApi:
    def __init__(self, config: EmulatorConfig, state: State, fleet: Fleet, blob_url: str) -> None:
        self.config, self.state, self.fleet, self.blob_url = config, state, fleet, blob_url
        self.jobs: dict[str, ExportJob] = {}
        self.files: dict[str, tuple[bytes, str, float]] = {}  # key -> (zip, sig, expiry)
        self.faults: list[str] = []  # the next jobs' ends: failed | never

    # --- routing ---------------------------------------------------------------------------

    def route(self, ctx: Ctx, rest: list[str], roles: tuple[str, ...]) -> Response:
        """``rest``: the segments after ``deviceManagement``."""
        if not rest or rest[0].lower() != "reports":
            raise segment_error(rest[0] if rest else "deviceManagement")
        sub = rest[1:]
        if not sub:
            raise segment_error("reports")
        head, key = _keyed(sub[0])
        method = ctx.request.method
        if head.lower() == "exportjobs" and len(sub) == 1:
            if key is None and method == "POST":
                require_roles(roles, CREATE_ROLES)
                return self._create(ctx)
            if method == "GET":
                require_roles(roles, READ_ROLES)
                return self._get(ctx, key)
            raise method_not_allowed(method)
        if head.lower() == "exportjobs" and len(sub) == 2 and method == "GET":
            require_roles(roles, READ_ROLES)
            return self._get(ctx, sub[1])
        if head.lower() == "getappstatusoverviewreport" and len(sub) == 1:
            if method != "POST":
                raise method_not_allowed(method)
            require_roles(roles, OVERVIEW_ROLES)
            return self._overview(ctx)
        raise segment_error(sub[0])

    def members(self, ctx: Ctx, rest: list[str], roles: tuple[str, ...]) -> Response:
        """``/groups/{id}/transitiveMembers`` of the fleet's devices."""
        if len(rest) != 2 or rest[1].lower() != "transitivemembers":
            raise segment_error(rest[-1] if rest else "groups")
        if ctx.request.method != "GET":
            raise method_not_allowed(ctx.request.method)
        require_roles(roles, MEMBER_ROLES)
        devices = self.fleet.group_members(rest[0])
        if not devices and not any(rest[0] in d.groups for d in self.fleet.devices):
            known = {g for d in self.fleet.devices for g in d.groups}
            if rest[0] not in known:
                raise HttpError(404, "Request_ResourceNotFound",
                                f"Resource '{rest[0]}' does not exist or one of its queried "
                                "reference-property objects are not present.", nested=False)
        items = [{"@odata.type": "#microsoft.graph.device", "id": d.id, "deviceId": d.id,
                  "displayName": d.name} for d in devices]
        return ctx.page(items, context=ctx.context("directoryObjects"),
                        page_size=self.config.page_size)

    # --- export jobs -----------------------------------------------------------------------

    def _create(self, ctx: Ctx) -> Response:
        body = ctx.body()
        unknown = sorted(set(body) - JOB_PROPERTIES)
        if unknown:
            raise bad_request(f"The property '{unknown[0]}' does not exist on type "
                              "'microsoft.graph.deviceManagementExportJob'.", nested=False)
        name = body.get("reportName")
        if not isinstance(name, str) or not name:
            raise bad_request("reportName is required.", nested=False)
        if name not in REPORTS:
            raise bad_request(f"Invalid report name '{name}'.", nested=False)
        columns, filters = REPORTS[name]
        select = body.get("select") or []
        if not isinstance(select, list) or any(c not in columns for c in select):
            wrong = [c for c in select if c not in columns] if isinstance(select, list) else []
            raise bad_request(f"Invalid select column(s): {', '.join(map(str, wrong))}.",
                              nested=False)
        terms = parse_filter(str(body.get("filter") or ""), filters)
        required = REQUIRED_FILTER.get(name)
        if required and required not in terms:
            raise bad_request(f"The filter must include {required} for report {name}.",
                              nested=False)
        fmt = body.get("format", "csv")
        if fmt not in FORMATS:
            raise bad_request(f"Invalid format '{fmt}'.", nested=False)
        localization = body.get("localizationType", LOCALIZATION[0])
        if localization not in LOCALIZATION:
            raise bad_request(f"Invalid localizationType '{localization}'.", nested=False)
        job = ExportJob(id=f"{name}_{uuid.uuid4()}", requested=iso(utcnow()),
                        body={"reportName": name, "filter": body.get("filter"),
                              "select": select, "format": fmt,
                              "localizationType": localization,
                              "snapshotId": body.get("snapshotId")},
                        fault=self.faults.pop(0) if self.faults else None)
        self.jobs[job.id] = job
        return ctx.json(201, self._render(ctx, job))

    def _get(self, ctx: Ctx, key: str | None) -> Response:
        if key is None:
            return ctx.json(200, {"@odata.context": ctx.context("deviceManagement/reports/"
                                                                 "exportJobs"),
                                  "value": [self._render(ctx, j) for j in self.jobs.values()]})
        job = self.jobs.get(key)
        if job is None:
            raise HttpError(404, "ResourceNotFound",
                            f"The export job '{key}' was not found.", nested=False)
        self._advance(job)
        return ctx.json(200, self._render(ctx, job))

    def _advance(self, job: ExportJob) -> None:
        """notStarted -> inProgress -> completed (or failed), one step per read."""
        if job.status == "notStarted":
            job.status = "inProgress"
            return
        if job.status != "inProgress" or job.fault == "never":
            return
        job.polls += 1
        if job.polls < self.config.report_pending_polls:
            return
        if job.fault == "failed":
            job.status = "failed"
            return
        data = self._export(job)
        sig = secrets.token_urlsafe(24)
        lifetime = self.config.report_url_lifetime_s
        expiry = time.time() + lifetime
        key = f"{DOWNLOAD_PREFIX}{job.id}.zip"
        self.files[key] = (data, sig, expiry)
        job.expires = iso(utcnow().fromtimestamp(expiry, utcnow().tzinfo))
        job.url = (f"{self.blob_url}/{key}?sv=2019-02-02&sr=b&sig={quote(sig, safe='')}"
                   f"&se={quote(job.expires, safe='')}&sp=r")
        job.status = "completed"

    def _render(self, ctx: Ctx, job: ExportJob) -> dict[str, Any]:
        return {"@odata.context": ctx.context("deviceManagement/reports/exportJobs/$entity"),
                "id": job.id, **job.body, "status": job.status, "url": job.url,
                "requestDateTime": job.requested, "expirationDateTime": job.expires}

    def _export(self, job: ExportJob) -> bytes:
        """The job's file: a ZIP holding ``<id>.csv`` (or ``.json``)."""
        name = job.body["reportName"]
        columns, filters = REPORTS[name]
        terms = parse_filter(str(job.body.get("filter") or ""), filters)
        rows = self._rows(terms["ApplicationId"])
        rows = [r for r in rows if all(r.get(k) == v for k, v in terms.items())]
        chosen = list(job.body.get("select") or columns)
        header: list[str] = []
        for column in chosen:
            header.append(column)
            if column in LOCALIZED and job.body["localizationType"] == LOCALIZATION[0]:
                header.append(f"{column}_loc")
        if job.body["localizationType"] == LOCALIZATION[1]:
            rows = [{k: r.get(f"{k}_loc", v) for k, v in r.items()} for r in rows]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            if job.body["format"] == "json":
                table = [{c: r.get(c, "") for c in header} for r in rows]
                archive.writestr(f"{job.id}.json", json.dumps(table))
            else:
                text = io.StringIO()
                writer = csv.writer(text, lineterminator="\r\n")
                writer.writerow(header)
                writer.writerows([[r.get(c, "") for c in header] for r in rows])
                archive.writestr(f"{job.id}.csv", "\ufeff" + text.getvalue())
        return buffer.getvalue()

    def _rows(self, app_id: str) -> list[dict[str, str]]:
        app = self.state.apps.get(app_id)
        if app is None:
            return []
        return self.fleet.rows(app.id, app.type_name, app.props, app.assignments)

    # --- overview --------------------------------------------------------------------------

    def _overview(self, ctx: Ctx) -> Response:
        body = ctx.body()
        terms = parse_filter(str(body.get("filter") or ""), ("ApplicationId",))
        if "ApplicationId" not in terms:
            raise bad_request("The filter must include ApplicationId.", nested=False)
        rows = self._rows(terms["ApplicationId"])
        states = [r["AppInstallState_loc"] for r in rows]
        columns = [("ApplicationId", "String", terms["ApplicationId"]),
                   ("FailedDeviceCount", "Int32", states.count("Failed")),
                   ("PendingInstallDeviceCount", "Int32", states.count("Install Pending")),
                   ("InstalledDeviceCount", "Int32", states.count("Installed")),
                   ("NotInstalledDeviceCount", "Int32", 0),
                   ("NotApplicableDeviceCount", "Int32", states.count("Not Applicable"))]
        table = {"TotalRowCount": 1,
                 "Schema": [{"Column": c, "PropertyType": t} for c, t, _ in columns],
                 "Values": [[v for _, _, v in columns]]}
        return Response(200, json.dumps(table).encode(),
                        {**ctx.headers(), "Content-Type": "application/octet-stream"})

    # --- the download, on the blob listener ------------------------------------------------

    def download(self, key: str, params: dict[str, str], request_id: str) -> Response | None:
        """A report file's signed GET; None for any other blob (the blob service's own)."""
        if not key.startswith(DOWNLOAD_PREFIX):
            return None
        found = self.files.get(key)
        if found is None:
            return blob_error(404, "BlobNotFound", request_id=request_id)
        data, sig, expiry = found
        if params.get("sig") != sig or time.time() >= expiry:
            return blob_error(403, "AuthenticationFailed", request_id=request_id)
        return Response(200, data, {**blob_headers(request_id),
                                    "Content-Type": "application/x-zip-compressed",
                                    "x-ms-blob-type": "BlockBlob"})


def _keyed(segment: str) -> tuple[str, str | None]:
    """``exportJobs('id')`` -> ("exportJobs", "id"); a plain segment -> (segment, None)."""
    match = re.fullmatch(r"(\w+)\('([^']*)'\)", segment)
    return (match.group(1), match.group(2)) if match else (segment, None)
