"""The `assignments` input: a readable YAML list, validated offline.

```yaml
- intent: required                 # required | available | uninstall | availableWithoutEnrollment
  group: 00000000-0000-0000-0000-000000000001
  filter: {id: <filter guid>, mode: include}   # or exclude
- intent: available
  target: all-users                # all-users | all-devices
- intent: required
  group: <guid>
  exclude: true                    # an exclusion group
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intune_step.config.text import GUID
from intune_step.errors import SettingsError

INTENTS = {i.lower(): i for i in ("required", "available", "uninstall",
                                   "availableWithoutEnrollment")}
ALL_TARGETS = {"all-users": "allLicensedUsersAssignmentTarget",
               "all-devices": "allDevicesAssignmentTarget"}
KINDS = {"groupAssignmentTarget", "exclusionGroupAssignmentTarget",
         *ALL_TARGETS.values()}
KEYS = {"intent", "group", "target", "exclude", "filter"}
EXAMPLE = "e.g. '- intent: required\\n  group: <group object id>'"


@dataclass(frozen=True)
class Assignment:
    """One wanted assignment, in Graph's terms."""

    intent: str
    kind: str  # the target's type name, e.g. groupAssignmentTarget
    group_id: str | None = None
    filter_id: str | None = None
    filter_mode: str = "none"  # none | include | exclude

    @property
    def key(self) -> str:
        # One assignment per group whether included or excluded; all-users/all-devices by kind.
        return f"group:{self.group_id.lower()}" if self.group_id else self.kind

    def to_graph(self, settings: Any = None) -> dict[str, Any]:
        target: dict[str, Any] = {"@odata.type": f"#microsoft.graph.{self.kind}"}
        if self.group_id:
            target["groupId"] = self.group_id
        target["deviceAndAppManagementAssignmentFilterId"] = self.filter_id
        target["deviceAndAppManagementAssignmentFilterType"] = self.filter_mode
        return {"@odata.type": "#microsoft.graph.mobileAppAssignment", "intent": self.intent,
                "target": target, "settings": settings}

    def describe(self) -> str:
        if self.kind == "exclusionGroupAssignmentTarget":
            who = f"excluded group {self.group_id}"
        elif self.group_id:
            who = f"group {self.group_id}"
        else:
            who = "all users" if self.kind == ALL_TARGETS["all-users"] else "all devices"
        text = f"{self.intent}: {who}"
        if self.filter_id:
            text += f" (filter {self.filter_id} {self.filter_mode})"
        return text

    def to_json(self) -> dict[str, Any]:
        return {"intent": self.intent, "target": self.kind, "groupId": self.group_id,
                "filterId": self.filter_id, "filterMode": self.filter_mode}


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
    if data is None:
        return ()
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise SettingsError("assignments must be a YAML list", fix=f"write {EXAMPLE}")
    result = [_entry(i + 1, item) for i, item in enumerate(data)]
    seen: dict[str, int] = {}
    for index, item in enumerate(result, 1):
        if item.key in seen:
            raise SettingsError(
                f"assignments entries {seen[item.key]} and {index} both target "
                f"{item.describe().split(': ', 1)[1]}",
                fix="Intune keeps one assignment per group or target; keep one entry",
            )
        seen[item.key] = index
    return tuple(result)


def _entry(index: int, item: Any) -> Assignment:
    where = f"assignments entry {index}"
    if not isinstance(item, dict):
        raise SettingsError(f"{where} is not a mapping", fix=f"write {EXAMPLE}")
    unknown = sorted(set(map(str, item)) - KEYS)
    if unknown:
        raise SettingsError(f"{where} has unknown key(s) {', '.join(unknown)}",
                            fix="use intent, group or target, exclude and filter")
    intent = INTENTS.get(str(item.get("intent", "")).strip().lower())
    if intent is None:
        raise SettingsError(f"{where}: intent {item.get('intent')!r} is not one of "
                            f"{', '.join(INTENTS.values())}", fix="set intent: required")
    group = item.get("group")
    target = str(item.get("target") or ("group" if group else "")).strip().lower()
    exclude = item.get("exclude", False)
    if not isinstance(exclude, bool):
        raise SettingsError(f"{where}: exclude must be true or false", fix="set exclude: true")
    if target == "group":
        if not isinstance(group, str) or not GUID.match(group.strip()):
            raise SettingsError(f"{where}: group {group!r} is not a group object id (GUID)",
                                fix="copy the group's Object ID from Entra admin center > Groups")
        group = group.strip()
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
    filter_id, mode = _filter(where, item.get("filter"))
    if filter_id and kind == "exclusionGroupAssignmentTarget":
        raise SettingsError(f"{where}: Intune takes no assignment filter on an excluded group",
                            fix="remove filter from the excluded group")
    return Assignment(intent, kind, group, filter_id, mode)


def _filter(where: str, value: Any) -> tuple[str | None, str]:
    if value is None:
        return None, "none"
    if not isinstance(value, dict) or set(map(str, value)) - {"id", "mode"}:
        raise SettingsError(f"{where}: filter must be {{id: <filter id>, mode: include}}",
                            fix="write filter: {id: <guid>, mode: include} (or mode: exclude)")
    filter_id = str(value.get("id") or "").strip()
    if not GUID.match(filter_id):
        raise SettingsError(f"{where}: filter id {value.get('id')!r} is not a GUID",
                            fix="copy the filter's ID from Intune > Tenant admin > Filters")
    mode = str(value.get("mode") or "include").strip().lower()
    if mode not in ("include", "exclude"):
        raise SettingsError(f"{where}: filter mode {mode!r} is not include or exclude",
                            fix="set mode: include or mode: exclude")
    return filter_id, mode
