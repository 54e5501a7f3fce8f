"""The `assignments` input: a readable YAML list, validated offline.

```yaml
- intent: required                 # required | available | uninstall | availableWithoutEnrollment
  group: 00000000-0000-0000-0000-000000000001  # or the group's display name
  filter: {id: <filter guid>, mode: include}   # or exclude; {name: <filter name>} works too
  settings: {notifications: hideAll}           # per app type (assignment_settings.py)
- intent: available
  target: all-users                # all-users | all-devices
- intent: required
  group: <guid>
  exclude: true                    # an exclusion group
```

Names are resolved to IDs after sign-in and before any write (graph/directory.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from intune_step.config.assignment_settings import parse_settings, settings_for
from intune_step.config.text import GUID
from intune_step.errors import SettingsError

INTENTS = {i.lower(): i for i in ("required", "available", "uninstall",
                                   "availableWithoutEnrollment")}
ALL_TARGETS = {"all-users": "allLicensedUsersAssignmentTarget",
               "all-devices": "allDevicesAssignmentTarget"}
KINDS = {"groupAssignmentTarget", "exclusionGroupAssignmentTarget",
         *ALL_TARGETS.values()}
KEYS = {"intent", "group", "target", "exclude", "filter", "settings"}
EXAMPLE = "e.g. '- intent: required\\n  group: <group object id>'"


@dataclass(frozen=True)
class Assignment:
    """One wanted assignment, in Graph's terms."""

    intent: str
    kind: str  # the target's type name, e.g. groupAssignmentTarget
    group_id: str | None = None
    filter_id: str | None = None
    filter_mode: str = "none"  # none | include | exclude
    # Names given instead of IDs (resolved before any write), and the settings as canonical
    # JSON without @odata.type (None: keep what the assignment has).
    group_name: str | None = None
    filter_name: str | None = None
    settings: str | None = None

    @property
    def key(self) -> str:
        # One assignment per group whether included or excluded; all-users/all-devices by kind.
        if self.group_id:
            return f"group:{self.group_id.lower()}"
        return f"name:{self.group_name.casefold()}" if self.group_name else self.kind

    @property
    def resolved(self) -> bool:
        return self.group_name is None and self.filter_name is None

    def to_graph(self, settings: Any = None, graph_version: str = "beta") -> dict[str, Any]:
        target: dict[str, Any] = {"@odata.type": f"#microsoft.graph.{self.kind}"}
        if self.group_id:
            target["groupId"] = self.group_id
        if graph_version == "beta":  # v1.0's targets have no filter properties
            target["deviceAndAppManagementAssignmentFilterId"] = self.filter_id
            target["deviceAndAppManagementAssignmentFilterType"] = self.filter_mode
        return {"@odata.type": "#microsoft.graph.mobileAppAssignment", "intent": self.intent,
                "target": target, "settings": settings}

    def graph_settings(self, app_type: str, graph_version: str) -> dict[str, Any] | None:
        """This entry's settings as Graph takes them for ``app_type`` (refused if foreign)."""
        return settings_for(self.settings, app_type, graph_version,
                            f"the assignment {self.describe()}")

    def describe(self) -> str:
        group = self.group_id or (f"'{self.group_name}'" if self.group_name else None)
        if self.kind == "exclusionGroupAssignmentTarget":
            who = f"excluded group {group}"
        elif group:
            who = f"group {group}"
        else:
            who = "all users" if self.kind == ALL_TARGETS["all-users"] else "all devices"
        text = f"{self.intent}: {who}"
        shown = self.filter_id or (f"'{self.filter_name}'" if self.filter_name else None)
        if shown:
            text += f" (filter {shown} {self.filter_mode})"
        return text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"intent": self.intent, "target": self.kind,
                               "groupId": self.group_id, "filterId": self.filter_id,
                               "filterMode": self.filter_mode}
        if self.settings:
            out["settings"] = json.loads(self.settings)
        return out


def parse_assignments(text: str | None) -> tuple[Assignment, ...] | None:
    """The input's assignments; None when the input is empty. Errors name the entry and fix."""
    if text is None or not text.strip():
        return None
    import yaml  # only a run with assignments pays for it

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SettingsError(f"assignments is not valid YAML{where}",
                            fix=f"write a YAML list of entries, {EXAMPLE}") from exc
    return assignment_list(data, "assignments")


def assignment_list(data: Any, label: str) -> tuple[Assignment, ...]:
    """Parsed YAML (a list of entries, or one entry) as assignments, one per target."""
    if data is None:
        return ()
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise SettingsError(f"{label} must be a YAML list", fix=f"write {EXAMPLE}")
    result = [_entry(f"{label} entry {i + 1}", item) for i, item in enumerate(data)]
    return unique(result, label)


def unique(result: list[Assignment], label: str) -> tuple[Assignment, ...]:
    """``result``, refused when two entries target the same group or target."""
    seen: dict[str, int] = {}
    for index, item in enumerate(result, 1):
        if item.key in seen:
            raise SettingsError(
                f"{label} entries {seen[item.key]} and {index} both target "
                f"{item.describe().split(': ', 1)[1]}",
                fix="Intune keeps one assignment per group or target; keep one entry",
            )
        seen[item.key] = index
    return tuple(result)


def _entry(where: str, item: Any) -> Assignment:
    if not isinstance(item, dict):
        raise SettingsError(f"{where} is not a mapping", fix=f"write {EXAMPLE}")
    unknown = sorted(set(map(str, item)) - KEYS)
    if unknown:
        raise SettingsError(f"{where} has unknown key(s) {', '.join(unknown)}",
                            fix="use intent, group or target, exclude, filter and settings")
    intent = INTENTS.get(str(item.get("intent", "")).strip().lower())
    if intent is None:
        raise SettingsError(f"{where}: intent {item.get('intent')!r} is not one of "
                            f"{', '.join(INTENTS.values())}", fix="set intent: required")
    group = item.get("group")
    target = str(item.get("target") or ("group" if group else "")).strip().lower()
    exclude = item.get("exclude", False)
    if not isinstance(exclude, bool):
        raise SettingsError(f"{where}: exclude must be true or false", fix="set exclude: true")
    group_name = None
    if target == "group":
        if not isinstance(group, str) or not group.strip():
            raise SettingsError(f"{where}: group {group!r} is not a group object id or name",
                                fix="write the group's Object ID or its display name")
        group = group.strip()
        if not GUID.match(group):
            group, group_name = None, group
        kind = "exclusionGroupAssignmentTarget" if exclude else "groupAssignmentTarget"
    elif target in ALL_TARGETS:
        if group is not None:
            raise SettingsError(f"{where} names both a group and target {target}",
                                fix="keep either group or target")
        if exclude:
            raise SettingsError(f"{where}: only a group can be excluded",
                                fix="remove exclude, or name a group")
        group, kind = None, ALL_TARGETS[target]
    else:
        raise SettingsError(f"{where} names no target",
                            fix="set group: <group id>, or target: all-users / all-devices")
    filter_id, filter_name, mode = _filter(where, item.get("filter"))
    if (filter_id or filter_name) and kind == "exclusionGroupAssignmentTarget":
        raise SettingsError(f"{where}: Intune takes no assignment filter on an excluded group",
                            fix="remove filter from the excluded group")
    settings = parse_settings(where, item.get("settings"))
    return Assignment(intent, kind, group, filter_id, mode, group_name, filter_name, settings)


def _filter(where: str, value: Any) -> tuple[str | None, str | None, str]:
    """(id, name, mode): a filter is {id: ...} or {name: ...} with a mode, or a bare id/name."""
    if value is None:
        return None, None, "none"
    if isinstance(value, str):
        value = {"id" if GUID.match(value.strip()) else "name": value}
    if not isinstance(value, dict) or set(map(str, value)) - {"id", "name", "mode"} \
            or ("id" in value) == ("name" in value):
        raise SettingsError(f"{where}: filter must be {{id: <filter id>, mode: include}} or "
                            "{name: <filter name>, mode: include}",
                            fix="write filter: {name: Corporate iPhones, mode: include} "
                                "(or mode: exclude)")
    filter_id = filter_name = None
    if "id" in value:
        filter_id = str(value.get("id") or "").strip()
        if not GUID.match(filter_id):
            raise SettingsError(f"{where}: filter id {value.get('id')!r} is not a GUID",
                                fix="copy the filter's ID from Intune > Tenant admin > "
                                    "Filters, or write name: <filter name>")
    else:
        filter_name = str(value.get("name") or "").strip()
        if not filter_name:
            raise SettingsError(f"{where}: filter name is empty",
                                fix="write the filter's name as Intune shows it")
    mode = str(value.get("mode") or "include").strip().lower()
    if mode not in ("include", "exclude"):
        raise SettingsError(f"{where}: filter mode {mode!r} is not include or exclude",
                            fix="set mode: include or mode: exclude")
    return filter_id, filter_name, mode
