"""Rings: named sets of assignments a build goes through in order (docs/rings.md).

Declared under ``rings:`` in the named-settings file (the order there is the release order),
replaced per setting (a setting's own ``rings:`` entry names the groups of its tenant), or
given as the ``rings`` input (inline YAML or @file; a ring of the same name replaces the
file's). A ring is one mapping or a list of assignment entries (the `assignments` input's
form, names or IDs)::

    rings:
      pilot: {intent: required, groups: [Pilot devices], settings: {notifications: showAll}}
      broad:
        - {intent: required, group: All staff, filter: {name: Corporate devices}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intune_step.config.assignments import Assignment, assignment_list, unique
from intune_step.config.named_settings import DEFAULT_FILE, load_settings_file
from intune_step.config.paths import in_workspace
from intune_step.config.text import clean
from intune_step.config.yamlinput import load_mapping
from intune_step.errors import SettingsError

RING_KEYS = {"intent", "groups", "exclude-groups", "target", "filter", "settings"}
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


@dataclass(frozen=True)
class Ring:
    name: str
    assignments: tuple[Assignment, ...]


@dataclass(frozen=True)
class Rings:
    """The rings in release order."""

    rings: tuple[Ring, ...] = ()

    def names(self) -> list[str]:
        return [r.name for r in self.rings]

    def get(self, name: str, role: str) -> Ring:
        for ring in self.rings:
            if ring.name == name.strip().lower():
                return ring
        known = ", ".join(self.names()) or "none are declared"
        raise SettingsError(f"{role} {name!r} is not a ring ({known})",
                            fix="declare it under rings: in intune-step.yml or the rings input "
                                "(docs/rings.md)")

    def before(self, ring: Ring) -> Ring | None:
        index = self.names().index(ring.name)
        return self.rings[index - 1] if index > 0 else None


def parse_rings(raw: Mapping[str, str | None], workspace: Path | None) -> Rings:
    """The file's rings, the selected setting's own, then the input's, by name."""
    found: dict[str, Ring] = {}
    data = _file_rings(raw, workspace)
    for source, table in data:
        found.update(_table(table, source))
    given = load_mapping("rings", raw.get("rings"), workspace)
    if given is not None:
        found.update(_table(given, "the rings input"))
    return Rings(tuple(found.values()))


def _file_rings(raw: Mapping[str, str | None],
                workspace: Path | None) -> list[tuple[str, Mapping[str, Any]]]:
    given = clean(raw, "settings-file")
    path = in_workspace(Path(given or DEFAULT_FILE), workspace)
    if not path.is_file():
        return []  # a missing given file is named_settings' error to raise
    settings_file = load_settings_file(path)
    out: list[tuple[str, Mapping[str, Any]]] = []
    if settings_file.rings:
        out.append((path.name, settings_file.rings))
    name = clean(raw, "setting-name") or settings_file.default
    entry = settings_file.entries.get(name) if name else None
    if entry is not None and entry.rings:
        out.append((f"{path.name}, setting {entry.name!r}", entry.rings))
    return out


def _table(table: Mapping[str, Any], source: str) -> dict[str, Ring]:
    if not isinstance(table, Mapping):
        raise SettingsError(f"rings in {source} must be a mapping of ring names to rings",
                            fix="write `pilot: {intent: required, groups: [<group>]}`")
    out: dict[str, Ring] = {}
    for raw_name, body in table.items():
        name = str(raw_name).strip().lower()
        if not name or set(name) - NAME_CHARS:
            raise SettingsError(f"ring name {raw_name!r} in {source} must be letters, digits, "
                                "'-', '_' or '.'", fix="rename it, e.g. pilot or broad")
        label = f"ring {name!r} in {source}"
        out[name] = Ring(name, _ring(body, label))
    return out


def _ring(body: Any, label: str) -> tuple[Assignment, ...]:
    if isinstance(body, list):
        found = assignment_list(body, label)
    elif isinstance(body, Mapping):
        unknown = sorted(set(map(str, body)) - RING_KEYS)
        if unknown:
            raise SettingsError(f"{label} has unknown key(s) {', '.join(unknown)}",
                                fix=f"use {', '.join(sorted(RING_KEYS))}, or a list of "
                                    "assignment entries")
        found = _from_mapping(body, label)
    else:
        raise SettingsError(f"{label} is neither a mapping nor a list",
                            fix="write `{intent: required, groups: [<group>]}`")
    if not found:
        raise SettingsError(f"{label} assigns nothing", fix="give it groups or a target")
    return found


def _from_mapping(body: Mapping[str, Any], label: str) -> tuple[Assignment, ...]:
    common = {k: body[k] for k in ("intent", "filter", "settings") if k in body}
    common.setdefault("intent", "required")
    entries: list[dict[str, Any]] = []
    if body.get("target") is not None:
        entries.append({**common, "target": body["target"]})
    for key, exclude in (("groups", False), ("exclude-groups", True)):
        groups = body.get(key) or []
        if isinstance(groups, str):
            groups = [groups]
        if not isinstance(groups, list):
            raise SettingsError(f"{label}: {key} must be a list of group names or IDs",
                                fix=f"write {key}: [Pilot devices]")
        for group in groups:
            entry = {**common, "group": group}
            if exclude:
                entry = {"intent": common["intent"], "group": group, "exclude": True}
            entries.append(entry)
    return unique(list(assignment_list(entries, label)), label)
