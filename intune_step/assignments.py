"""The `assignments` input: a readable YAML list, validated offline, and its diff with the app.

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

Intune holds one assignment per target (a group, all users, all devices), so the target is the
key: merging keeps every current assignment and lets the input win for the targets it names.
POST /assign replaces the whole set (spec §2.11), so the merged set is what gets sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from intune_step.errors import SettingsError

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
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


# --- what the app has, and what changes ---------------------------------------------------


def from_graph(item: dict[str, Any]) -> Assignment | None:
    """An assignment as Graph returns it; None for target types this step does not manage."""
    target = item.get("target") or {}
    kind = str(target.get("@odata.type", "")).lstrip("#").removeprefix("microsoft.graph.")
    kind = next((k for k in KINDS if k.lower() == kind.lower()), "")
    intent = INTENTS.get(str(item.get("intent", "")).lower(), str(item.get("intent", "")))
    if not kind:
        return None
    mode = str(target.get("deviceAndAppManagementAssignmentFilterType") or "none").lower()
    return Assignment(intent, kind, target.get("groupId") or None,
                      target.get("deviceAndAppManagementAssignmentFilterId") or None,
                      mode if mode in ("include", "exclude") else "none")


@dataclass(frozen=True)
class AssignmentDiff:
    add: tuple[Assignment, ...]
    change: tuple[tuple[Assignment, Assignment], ...]  # (current, wanted)
    remove: tuple[Assignment, ...]
    keep: int
    body: tuple[dict[str, Any], ...]  # the full set to POST to /assign

    @property
    def empty(self) -> bool:
        return not (self.add or self.change or self.remove)

    def to_json(self) -> dict[str, Any]:
        return {"add": [a.to_json() for a in self.add],
                "change": [{"from": a.to_json(), "to": b.to_json()} for a, b in self.change],
                "remove": [a.to_json() for a in self.remove], "keep": self.keep}

    def lines(self) -> list[str]:
        out = [f"+ {a.describe()}" for a in self.add]
        out += [f"~ {a.describe()} -> {b.describe()}" for a, b in self.change]
        out += [f"- {a.describe()}" for a in self.remove]
        return out


def diff(current: list[dict[str, Any]], wanted: tuple[Assignment, ...] | None,
         replace: bool) -> AssignmentDiff:
    """What /assign must receive so the app has ``wanted`` (merged unless ``replace``)."""
    if wanted is None and not replace:
        return AssignmentDiff((), (), (), len(current), ())
    wanted = wanted or ()
    by_key = {a.key: a for a in wanted}
    add, change, remove, body = [], [], [], []
    keep = 0
    matched: set[str] = set()
    for item in current:
        have = from_graph(item)
        if have is None:  # a target kind we do not manage: always kept as it is
            keep += 1
            body.append(_resend(item))
            continue
        want = by_key.get(have.key)
        if want is None:
            if replace:
                remove.append(have)
            else:
                keep += 1
                body.append(_resend(item))
            continue
        matched.add(have.key)
        if _same(have, want):
            keep += 1
            body.append(_resend(item))
        else:
            change.append((have, want))
            body.append(want.to_graph(item.get("settings")))  # keep settings set in the portal
    for want in wanted:
        if want.key not in matched:
            add.append(want)
            body.append(want.to_graph())
    return AssignmentDiff(tuple(add), tuple(change), tuple(remove), keep, tuple(body))


def _same(a: Assignment, b: Assignment) -> bool:
    return (a.intent.lower() == b.intent.lower() and a.kind == b.kind
            and (a.filter_id or "").lower() == (b.filter_id or "").lower()
            and a.filter_mode == b.filter_mode)


def _resend(item: dict[str, Any]) -> dict[str, Any]:
    """An existing assignment as /assign takes it back: without id and read-only fields."""
    return {k: v for k, v in item.items()
            if k in ("@odata.type", "intent", "target", "settings")}
