"""Group and assignment filter names resolved to IDs, before any write (docs/assignments.md).

Groups live in the Microsoft Graph directory (``GET /groups?$filter=displayName eq '…'``,
which needs Group.Read.All), filters in Intune (``GET /deviceManagement/assignmentFilters``,
beta only, which needs DeviceManagementConfiguration.Read.All). A name that matches none or
several is refused with what was found; so is a filter made for another platform than the app.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from intune_step.config.assignments import Assignment
from intune_step.errors import BadInputError, PermissionDeniedError
from intune_step.graph.client import GraphClient

GROUPS = "groups"
FILTERS = "deviceManagement/assignmentFilters"
GROUP_PERMISSION = "Group.Read.All"
FILTER_PERMISSION = "DeviceManagementConfiguration.Read.All"
# App type -> the filter platforms (devicePlatformType) that can apply to it.
PLATFORMS = {
    "iosLobApp": ("iOS",),
    "androidLobApp": ("android", "androidForWork", "androidWorkProfile", "androidAOSP"),
    "macOSLobApp": ("macOS",), "macOSPkgApp": ("macOS",), "macOSDmgApp": ("macOS",),
    "win32LobApp": ("windows10AndLater",), "windowsMobileMSI": ("windows10AndLater",),
    "windowsUniversalAppX": ("windows10AndLater",),
}


class Directory:
    """Looks names up once per run; the answers are kept for every artifact and ring."""

    def __init__(self, graph: GraphClient) -> None:
        self.graph = graph
        self._groups: dict[str, str] = {}
        self._filters: list[dict[str, Any]] | None = None
        self._named: set[str] = set()  # filter IDs this run found by name

    def resolve(self, assignments: Iterable[Assignment]) -> tuple[Assignment, ...]:
        """The same assignments with every name replaced by its ID."""
        out = []
        for item in assignments:
            if item.group_name is not None:
                item = replace(item, group_id=self.group_id(item.group_name), group_name=None)
            if item.filter_name is not None:
                found = self._filter_named(item.filter_name)
                item = replace(item, filter_id=str(found["id"]), filter_name=None)
                self._named.add(str(found["id"]))
            out.append(item)
        return tuple(out)

    def check_platforms(self, assignments: Iterable[Assignment], app_type: str) -> None:
        """Refuse a filter whose platform cannot apply to an app of ``app_type``.

        Filters given by ID were never read before this check: without the permission to read
        them the check is left to Intune, as it was."""
        allowed = PLATFORMS.get(app_type)
        for item in assignments:
            if not item.filter_id or allowed is None:
                continue
            if self._filters is None:
                try:
                    self.filters()
                except PermissionDeniedError:
                    if item.filter_id in self._named:
                        raise
                    continue
            found = self._filter_by_id(item.filter_id)
            platform = str(found.get("platform") or "")
            if platform not in allowed:
                raise BadInputError(
                    f"assignment filter '{found.get('displayName')}' ({item.filter_id}) is for "
                    f"platform {platform or 'unknown'}, not for a {app_type} "
                    f"({' or '.join(allowed)})",
                    fix=f"use a filter made for {allowed[0]} devices, or remove the filter")

    # -- groups ---------------------------------------------------------------------------
    def group_id(self, name: str) -> str:
        key = name.casefold()
        if key not in self._groups:
            quoted = name.replace("'", "''")  # OData doubles a quote inside a literal
            try:
                found = list(self.graph.get_all(
                    GROUPS, params={"$filter": f"displayName eq '{quoted}'",
                                    "$select": "id,displayName"},
                    what=f"look up group '{name}'"))
            except PermissionDeniedError as exc:
                raise _needs(exc, GROUP_PERMISSION, f"group '{name}' by name") from None
            if not found:
                raise BadInputError(f"no group in this tenant is named '{name}'",
                                    fix="check the name in Entra admin center > Groups, or "
                                        "give the group's Object ID")
            if len(found) > 1:
                ids = ", ".join(str(g.get("id")) for g in found)
                raise BadInputError(f"{len(found)} groups are named '{name}': {ids}",
                                    fix="give the Object ID of the one you mean")
            self._groups[key] = str(found[0]["id"])
        return self._groups[key]

    # -- filters --------------------------------------------------------------------------
    def filters(self) -> list[dict[str, Any]]:
        if self._filters is None:
            try:
                self._filters = list(self.graph.get_all(
                    FILTERS, what="list the assignment filters"))
            except PermissionDeniedError as exc:
                raise _needs(exc, FILTER_PERMISSION, "assignment filters") from None
        return self._filters

    def _filter_named(self, name: str) -> dict[str, Any]:
        found = [f for f in self.filters()
                 if str(f.get("displayName", "")).strip().casefold() == name.casefold()]
        if not found:
            known = sorted(str(f.get("displayName")) for f in self.filters())
            shown = ", ".join(known[:20]) or "none"
            raise BadInputError(f"no assignment filter is named '{name}' (the tenant has: "
                                f"{shown})", fix="check the name in Intune > Tenant "
                                                 "administration > Filters, or give its ID")
        if len(found) > 1:
            listed = ", ".join(f"{f.get('id')} ({f.get('platform')})" for f in found)
            raise BadInputError(f"{len(found)} assignment filters are named '{name}': {listed}",
                                fix="give the ID of the one you mean")
        return found[0]

    def _filter_by_id(self, filter_id: str) -> dict[str, Any]:
        for item in self.filters():
            if str(item.get("id", "")).lower() == filter_id.lower():
                return item
        raise BadInputError(f"no assignment filter in this tenant has the ID {filter_id}",
                            fix="copy the ID from Intune > Tenant administration > Filters")


def _needs(exc: PermissionDeniedError, permission: str, what: str) -> PermissionDeniedError:
    return PermissionDeniedError(
        f"reading {what} needs the application permission {permission}, which the token "
        f"lacks ({exc.code or 'HTTP 403'})", status=403, code=exc.code,
        request_id=exc.request_id,
        fix=f"grant {permission} to the app registration and grant admin consent, or give "
            "IDs instead of names")
