"""What a run will do, decided from reads alone: the dry-run output and the script of a run.

A plan names the operation (create, update, unchanged, or resume an app an earlier run left
unpublished), the app, the version change, and the metadata, assignment and category diffs.
It renders as text lines for the log and as JSON for the `plan` output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from intune_step.artifacts.icon import describe_graph
from intune_step.graph.assignments import AssignmentDiff
from intune_step.graph.categories import CategoryPlan

READ_ONLY = {"@odata.type", "notes", "committedContentVersion"}


@dataclass(frozen=True)
class FieldChange:
    field: str
    current: Any
    new: Any

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "from": self.current, "to": self.new}

    def line(self) -> str:
        return f"~ {self.field}: {_short(self.current)} -> {_short(self.new)}"


@dataclass
class Plan:
    operation: str  # create | update | unchanged | resume
    app_type: str
    identity: str
    display_name: str
    version: str
    file_sha256: str
    app_id: str | None = None
    current_version: str | None = None
    upload: bool = True
    content_changes: list[FieldChange] = field(default_factory=list)
    metadata: list[FieldChange] = field(default_factory=list)
    assignments: AssignmentDiff | None = None
    categories: CategoryPlan | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def writes_nothing(self) -> bool:
        return (not self.upload and not self.metadata
                and (self.assignments is None or self.assignments.empty)
                and (self.categories is None or not self.categories.add))

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "appId": self.app_id,
            "appType": self.app_type,
            "identity": self.identity,
            "displayName": self.display_name,
            "version": {"current": self.current_version, "new": self.version},
            "upload": self.upload,
            "fileSha256": self.file_sha256,
            "content": [c.to_json() for c in self.content_changes],
            "metadata": [c.to_json() for c in self.metadata],
            "assignments": self.assignments.to_json() if self.assignments else None,
            "categories": self.categories.to_json() if self.categories else None,
            "notes": list(self.notes),
        }

    def json_line(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))

    def lines(self) -> list[str]:
        what = {
            "create": f"create {self.app_type} '{self.display_name}' {self.version}",
            "resume": f"finish publishing {self.app_type} {self.app_id} ('{self.display_name}'), "
                      f"which has no committed content yet, with {self.version}",
            "update": f"upload {self.version} as a new content version of {self.app_id} "
                      f"('{self.display_name}', now {self.current_version or 'unknown'})",
            "unchanged": f"keep {self.app_id} ('{self.display_name}'): {self.version} with "
                         "this exact file is already published",
        }[self.operation]
        out = [what]
        for label, changes in (("content fields", self.content_changes),
                               ("metadata", self.metadata)):
            if changes:
                out.append(f"  {label}:")
                out += [f"    {c.line()}" for c in changes]
        if self.assignments is not None and not self.assignments.empty:
            out.append(f"  assignments (keeping {self.assignments.keep}):")
            out += [f"    {line}" for line in self.assignments.lines()]
        if self.categories is not None and self.categories.add:
            out.append("  categories: + " + ", ".join(n for _, n in self.categories.add))
        out += [f"  note: {n}" for n in self.notes]
        if self.writes_nothing:
            out.append("  no change to write")
        return out


def changes(current: dict[str, Any], wanted: dict[str, Any]) -> list[FieldChange]:
    """The fields of ``wanted`` whose value differs from the app's ``current`` one."""
    out = []
    for key, new in wanted.items():
        if key in READ_ONLY:
            continue
        old = current.get(key)
        if not same_value(key, old, new):
            if key == "largeIcon":
                out.append(FieldChange(key, describe_graph(old), describe_graph(new)))
            else:
                out.append(FieldChange(key, old, new))
    return out


def same_value(key: str, old: Any, new: Any) -> bool:
    if key == "largeIcon":
        return _icon_value(old) == _icon_value(new)
    if key == "roleScopeTagIds":
        return sorted(map(str, old or [])) == sorted(map(str, new or []))
    if isinstance(old, dict) and isinstance(new, dict):
        if key == "minimumSupportedOperatingSystem":  # only the flag set to true matters
            return _true_flags(old) == _true_flags(new)
        return all(same_value(k, old.get(k), v) for k, v in new.items()
                   if not k.startswith("@"))
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(
            same_value(key, a, b) for a, b in zip(old, new, strict=True))
    if old in (None, "") and new in (None, ""):
        return True
    return bool(old == new)  # Graph JSON values: == is a bool for each of them


def _true_flags(value: dict[str, Any]) -> set[str]:
    return {k for k, v in value.items() if v is True}


def _icon_value(value: Any) -> str | None:
    return str(value.get("value")) if isinstance(value, dict) and value.get("value") else None


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
