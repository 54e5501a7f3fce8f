"""Groups (the Microsoft Graph directory) and Intune's assignment filters, with their permissions.

- ``GET /{v1.0|beta}/groups`` with ``$filter`` (displayName eq …) and ``$select``: List
  groups, learn.microsoft.com/graph/api/group-list. Application permissions, least privileged
  first: GroupMember.Read.All, Group.Read.All, Directory.Read.All, Group.ReadWrite.All.
  A token without one answers 403 Authorization_RequestDenied, "Insufficient privileges to
  complete the operation."
- ``GET /beta/deviceManagement/assignmentFilters`` (and ``/{id}``): List
  deviceAndAppManagementAssignmentFilters, learn.microsoft.com/graph/api/
  intune-policyset-deviceandappmanagementassignmentfilter-list (beta only): permission
  DeviceManagementConfiguration.Read.All or .ReadWrite.All. v1.0 has no such segment.

Tests seed both through :class:`Directory` (``Emulator.add_group``, ``add_filter``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from .config import EmulatorConfig
from .graph_common import Ctx, HttpError, bad_request, method_not_allowed, not_found
from .odata_filter import FilterError, Schema, compile_filter
from .server import Response

GROUP_ROLES = ("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All",
               "Group.ReadWrite.All", "Directory.ReadWrite.All")
FILTER_ROLES = ("DeviceManagementConfiguration.Read.All",
                "DeviceManagementConfiguration.ReadWrite.All")
GROUP_PROPERTIES = ("id", "displayName", "description", "mailEnabled", "securityEnabled",
                    "mailNickname", "groupTypes", "createdDateTime")
FILTER_PROPERTIES = ("id", "displayName", "description", "platform", "rule",
                     "assignmentFilterManagementType", "createdDateTime",
                     "lastModifiedDateTime", "roleScopeTags")
PLATFORMS = ("android", "androidForWork", "iOS", "macOS", "windowsPhone81",
             "windows81AndLater", "windows10AndLater", "androidWorkProfile", "unknown",
             "androidAOSP", "androidMobileApplicationManagement",
             "iOSMobileApplicationManagement", "windowsMobileApplicationManagement")


@dataclass
class Group:
    id: str
    display_name: str


@dataclass
class AssignmentFilter:
    id: str
    display_name: str
    platform: str
    rule: str = '(device.deviceOwnership -eq "Corporate")'


class Directory:
    """The groups and filters of the emulated tenant."""

    def __init__(self) -> None:
        self.groups: dict[str, Group] = {}
        self.filters: dict[str, AssignmentFilter] = {}

    def add_group(self, name: str, group_id: str | None = None) -> str:
        group = Group(group_id or str(uuid.uuid4()), name)
        self.groups[group.id] = group
        return group.id

    def add_filter(self, name: str, platform: str, filter_id: str | None = None) -> str:
        if platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}")
        item = AssignmentFilter(filter_id or str(uuid.uuid4()), name, platform)
        self.filters[item.id] = item
        return item.id


def roles_for(segments: list[str]) -> tuple[tuple[str, ...], str] | None:
    """The roles a directory or filter path needs and the answer's style, or None when the
    path is Intune's apps (graph.py decides those)."""
    head = segments[1].lower() if len(segments) > 1 else ""
    if head == "groups":
        return GROUP_ROLES, "directory"
    if head == "devicemanagement" and len(segments) > 2 \
            and segments[2].lower() == "assignmentfilters":
        return FILTER_ROLES, "intune"
    return None


def forbidden(roles: tuple[str, ...], style: str) -> HttpError:
    if style == "directory":
        return HttpError(403, "Authorization_RequestDenied",
                         "Insufficient privileges to complete the operation.", nested=False)
    return HttpError(403, "Forbidden",
                     "Application is not authorized to perform this operation. Application "
                     f"must have one of the following scopes: {', '.join(roles)}")


class DirectoryApi:
    def __init__(self, config: EmulatorConfig, directory: Directory) -> None:
        self.config = config
        self.directory = directory

    def groups(self, ctx: Ctx, rest: list[str]) -> Response:
        if ctx.request.method != "GET":
            raise method_not_allowed(ctx.request.method)
        items = [_group(g) for g in self.directory.groups.values()]
        if rest:
            found = next((g for g in items if g["id"] == rest[0]), None)
            if found is None or len(rest) > 1:
                raise HttpError(404, "Request_ResourceNotFound",
                                f"Resource '{rest[0]}' does not exist or one of its queried "
                                "reference-property objects are not present.", nested=False)
            return ctx.json(200, {"@odata.context": ctx.context("groups/$entity"), **found})
        items = _filtered(ctx, items, GROUP_PROPERTIES)
        return ctx.page(_selected(ctx, items, GROUP_PROPERTIES),
                        context=ctx.context("groups"), page_size=self.config.page_size)

    def filters(self, ctx: Ctx, rest: list[str]) -> Response:
        if not ctx.beta:  # v1.0 has no assignment filters
            raise HttpError(400, "BadRequest",
                            "Resource not found for the segment 'assignmentFilters'.",
                            nested=False)
        if ctx.request.method != "GET":
            raise method_not_allowed(ctx.request.method)
        items = [_filter(f) for f in self.directory.filters.values()]
        context = "deviceManagement/assignmentFilters"
        if rest:
            found = next((f for f in items if f["id"] == rest[0]), None)
            if found is None or len(rest) > 1:
                raise not_found(f"The assignment filter '{rest[0]}'")
            return ctx.json(200, {"@odata.context": ctx.context(f"{context}/$entity"),
                                  **found})
        items = _filtered(ctx, items, FILTER_PROPERTIES)
        return ctx.page(_selected(ctx, items, FILTER_PROPERTIES),
                        context=ctx.context(context), page_size=self.config.page_size)


def _group(group: Group) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.group", "id": group.id,
            "displayName": group.display_name, "description": None, "mailEnabled": False,
            "securityEnabled": True, "mailNickname": group.display_name.replace(" ", ""),
            "groupTypes": [], "createdDateTime": "2026-01-01T00:00:00Z"}


def _filter(item: AssignmentFilter) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.deviceAndAppManagementAssignmentFilter",
            "id": item.id, "displayName": item.display_name, "description": "",
            "platform": item.platform, "rule": item.rule,
            "assignmentFilterManagementType": "devices",
            "createdDateTime": "2026-01-01T00:00:00Z",
            "lastModifiedDateTime": "2026-01-01T00:00:00Z", "roleScopeTags": ["0"]}


def _filtered(ctx: Ctx, items: list[dict[str, Any]],
              properties: tuple[str, ...]) -> list[dict[str, Any]]:
    raw = ctx.query.get("$filter")
    if not raw:
        return items
    schema = Schema(has_property=lambda p: p in properties, lookup=lambda e, p: e.get(p),
                    is_of=lambda e, t: False)
    try:
        test = compile_filter(raw, schema)
    except FilterError as exc:
        raise bad_request(str(exc), nested=False) from exc
    return [item for item in items if test(item)]


def _selected(ctx: Ctx, items: list[dict[str, Any]],
              properties: tuple[str, ...]) -> list[dict[str, Any]]:
    select = [p.strip() for p in ctx.query.get("$select", "").split(",") if p.strip()]
    for name in select:
        if name not in properties:
            raise bad_request(f"Could not find a property named '{name}' on type "
                              "'microsoft.graph.group'.", nested=False)
    if not select:
        return items
    keep = {"@odata.type", "id", *select}
    return [{k: v for k, v in item.items() if k in keep} for item in items]
