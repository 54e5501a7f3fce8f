"""An app's assignments against the wanted ones: what POST /assign must receive.

Intune holds one assignment per target (a group, all users, all devices), so the target is the
key: merging keeps every current assignment and lets the input win for the targets it names.
POST /assign replaces the whole set (docs/protocol.md, "Assignments"), so the merged set is
what gets sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intune_step.config.assignments import INTENTS, KINDS, Assignment
from intune_step.graph.client import GraphClient


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


def body_of(want: Assignment, app_type: str | None, graph_version: str = "beta",
            kept: Any = None) -> dict[str, Any]:
    """``want`` as /assign takes it: its own settings for ``app_type``, else ``kept``."""
    settings = want.graph_settings(app_type, graph_version) if app_type else None
    return want.to_graph(settings if settings is not None else kept, graph_version)


def diff(current: list[dict[str, Any]], wanted: tuple[Assignment, ...] | None,
         replace: bool, app_type: str | None = None,
         graph_version: str = "beta") -> AssignmentDiff:
    """What /assign must receive so the app has ``wanted`` (merged unless ``replace``).

    An entry with settings sets them (for ``app_type``); one without keeps the settings the
    assignment has, so a portal edit survives a re-run."""
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
            body.append(resend(item))
            continue
        want = by_key.get(have.key)
        if want is None:
            if replace:
                remove.append(have)
            else:
                keep += 1
                body.append(resend(item))
            continue
        matched.add(have.key)
        if _same(have, want) and _same_settings(item.get("settings"), want, app_type,
                                                graph_version):
            keep += 1
            body.append(resend(item))
        else:
            change.append((have, want))
            body.append(body_of(want, app_type, graph_version, item.get("settings")))
    for want in wanted:
        if want.key not in matched:
            add.append(want)
            body.append(body_of(want, app_type, graph_version))
    return AssignmentDiff(tuple(add), tuple(change), tuple(remove), keep, tuple(body))


def _same(a: Assignment, b: Assignment) -> bool:
    return (a.intent.lower() == b.intent.lower() and a.kind == b.kind
            and (a.filter_id or "").lower() == (b.filter_id or "").lower()
            and a.filter_mode == b.filter_mode)


def _same_settings(current: Any, want: Assignment, app_type: str | None,
                   graph_version: str) -> bool:
    """Does the assignment already have every setting the entry gives?"""
    wanted = want.graph_settings(app_type, graph_version) if app_type else None
    if wanted is None:
        return True
    have = current if isinstance(current, dict) else {}
    if str(have.get("@odata.type", "")).lower() != str(wanted["@odata.type"]).lower():
        return False
    return all(_equal(have.get(k), v) for k, v in wanted.items() if k != "@odata.type")


def _equal(have: Any, want: Any) -> bool:
    if isinstance(want, dict):
        return isinstance(have, dict) and all(_equal(have.get(k), v) for k, v in want.items())
    if isinstance(want, str) and isinstance(have, str):
        return have.lower() == want.lower() or have.replace("Z", "+00:00") == want.replace(
            "Z", "+00:00")
    return bool(have == want)


def resend(item: dict[str, Any]) -> dict[str, Any]:
    """An existing assignment as /assign takes it back: without id and read-only fields."""
    return {k: v for k, v in item.items()
            if k in ("@odata.type", "intent", "target", "settings")}


def current(graph: GraphClient, app_id: str) -> list[dict[str, Any]]:
    """The app's assignments as Graph lists them."""
    return list(graph.get_all(f"deviceAppManagement/mobileApps/{app_id}/assignments",
                              what=f"read the assignments of app {app_id}"))
