"""What to publish: the artifact inputs and the metadata the user sets, validated once.

Every field of :class:`PublishOptions` is parsed here (or by the parser of its own input,
called from here), so a bad value stops the run before any network call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intune_step.config.assignments import Assignment, parse_assignments, unique
from intune_step.config.files import names_a_list, resolve_files
from intune_step.config.lifecycle import parse_versioning
from intune_step.config.overrides import (
    parse_bundle_id,
    parse_macos_app_type,
    parse_properties,
)
from intune_step.config.paths import in_workspace
from intune_step.config.rings import Ring, Rings, parse_rings
from intune_step.config.text import GUID, clean, parse_bool
from intune_step.config.win32 import Win32Config, parse_win32
from intune_step.errors import SettingsError

DEFAULT_LOCK_TIMEOUT = 1800  # seconds to wait for another run publishing the same app
DEFAULT_MAX_PARALLEL, MAX_PARALLEL = 3, 10  # artifacts at once: Graph throttles writes per app


@dataclass(frozen=True)
class PublishOptions:
    """What to publish and the metadata the user sets over what the file says."""

    file: Path  # the first (or only) artifact
    app_id: str | None = None
    display_name: str | None = None
    description: str | None = None
    publisher: str | None = None
    dry_run: bool = False
    # Safe re-runs, assignments and metadata (publish/, graph/assignments.py, graph/lock.py).
    assignments: tuple[Assignment, ...] | None = None  # None: the input was not given
    replace_assignments: bool = False
    categories: tuple[str, ...] = ()
    scope_tags: tuple[str, ...] | None = None
    icon: Path | None = None
    allow_downgrade: bool = False
    lock_timeout: int = DEFAULT_LOCK_TIMEOUT
    # App-type inputs (config/overrides.py, config/win32.py): what the file cannot say.
    win32: Win32Config | None = None
    versioning: str = "in-place"  # Win32: in-place | new-app (config/lifecycle.py)
    bundle_id: str | None = None
    bundle_version: str | None = None
    macos_app_type: str = "pkg"  # pkg: macOSPkgApp; lob: macOSLobApp (a .pkg only)
    properties: Mapping[str, Any] = field(default_factory=dict)  # over the Graph body
    # Several artifacts (config/files.py, publish/several.py): every file named, in order.
    files: tuple[Path, ...] = ()
    several: bool = False  # `file` is a list or a pattern: outputs are JSON lists
    max_parallel: int = DEFAULT_MAX_PARALLEL  # artifacts published at the same time
    # Rings (config/rings.py): the one this publish assigns, and a promotion's two ends.
    rings: Rings = field(default_factory=Rings)
    ring: Ring | None = None
    promote_to: Ring | None = None
    promote_from: Ring | None = None
    graph_version: str = "beta"


def build_options(raw: Mapping[str, str | None], workspace: Path | None = None) -> PublishOptions:
    file_value = clean(raw, "file") or ""
    files = resolve_files(file_value, workspace)
    app_id = clean(raw, "app-id")
    if app_id and not GUID.match(app_id):
        raise SettingsError(
            f"app-id {app_id!r} is not a GUID",
            fix="copy the app's ID from the Intune admin center URL or a previous run's app-id",
        )
    rings = parse_rings(raw, workspace)
    ring = _ring(rings, clean(raw, "ring"), "ring")
    graph_version = clean(raw, "graph-version") or "beta"
    return PublishOptions(
        rings=rings,
        ring=ring,
        promote_to=_ring(rings, clean(raw, "promote-to"), "promote-to"),
        promote_from=_ring(rings, clean(raw, "promote-from"), "promote-from"),
        graph_version=graph_version,
        file=files[0],
        files=files,
        several=names_a_list(file_value, workspace),
        max_parallel=_max_parallel(clean(raw, "max-parallel")),
        app_id=app_id,
        display_name=clean(raw, "display-name"),
        description=clean(raw, "description"),
        publisher=clean(raw, "publisher"),
        dry_run=parse_bool("dry-run", clean(raw, "dry-run")),
        assignments=_with_ring(parse_assignments(raw.get("assignments")), ring, graph_version),
        replace_assignments=parse_bool("replace-assignments", clean(raw, "replace-assignments")),
        categories=_names(clean(raw, "categories")),
        scope_tags=_scope_tags(clean(raw, "scope-tags"), clean(raw, "graph-version") or "beta"),
        icon=_icon(clean(raw, "icon"), workspace),
        allow_downgrade=parse_bool("allow-downgrade", clean(raw, "allow-downgrade")),
        lock_timeout=_lock_timeout(clean(raw, "lock-timeout")),
        win32=parse_win32(raw.get("win32"), workspace),
        versioning=parse_versioning(clean(raw, "versioning")),
        bundle_id=parse_bundle_id(clean(raw, "bundle-id")),
        bundle_version=clean(raw, "bundle-version"),
        macos_app_type=parse_macos_app_type(raw.get("macos-app-type")),
        properties=parse_properties(raw.get("properties"), workspace),
    )


def _ring(rings: Rings, name: str | None, role: str) -> Ring | None:
    return rings.get(name, role) if name else None


def _with_ring(given: tuple[Assignment, ...] | None, ring: Ring | None,
               graph_version: str) -> tuple[Assignment, ...] | None:
    """The assignments input and the ring's, one per target; filters need beta."""
    wanted = given if ring is None else unique([*(given or ()), *ring.assignments],
                                               f"assignments and ring {ring.name!r}")
    for item in wanted or ():
        if (item.filter_id or item.filter_name) and graph_version != "beta":
            raise SettingsError(f"the assignment {item.describe()} has a filter, which needs "
                                "graph-version beta (v1.0's assignment targets have no filter)",
                                fix="set graph-version: beta, or remove the filter")
    return wanted


def _max_parallel(text: str | None) -> int:
    if text is None:
        return DEFAULT_MAX_PARALLEL
    if not text.isdigit() or not 1 <= int(text) <= MAX_PARALLEL:
        raise SettingsError(f"max-parallel must be a whole number from 1 to {MAX_PARALLEL}, "
                            f"not {text!r}", fix=f"set max-parallel: {DEFAULT_MAX_PARALLEL}")
    return int(text)


def _icon(text: str | None, workspace: Path | None) -> Path | None:
    return in_workspace(Path(text), workspace) if text else None


def _lock_timeout(text: str | None) -> int:
    if text is None:
        return DEFAULT_LOCK_TIMEOUT
    if not text.isdigit():
        raise SettingsError(f"lock-timeout must be a whole number of seconds, not {text!r}",
                            fix="set lock-timeout: 1800 (0 stops at once when another run "
                            "is publishing the same app)")
    return int(text)


def _names(text: str | None) -> tuple[str, ...]:
    """Category names: one per line, or comma-separated on one line; duplicates dropped."""
    if not text:
        return ()
    parts = text.splitlines() if "\n" in text else text.split(",")
    names: dict[str, str] = {}
    for part in parts:
        name = part.strip().lstrip("-").strip()  # a YAML-style "- name" line works too
        if name:
            names.setdefault(name.casefold(), name)
    return tuple(names.values())


def _scope_tags(text: str | None, graph_version: str) -> tuple[str, ...] | None:
    if not text:
        return None
    tags = tuple(dict.fromkeys(t for t in re.split(r"[\s,]+", text) if t))
    bad = [t for t in tags if not t.isdigit()]
    if bad:
        raise SettingsError(f"scope-tags must be scope tag IDs (numbers), not {', '.join(bad)}",
                            fix="use the IDs from Intune > Tenant administration > Roles > "
                            "Scope tags (0 is Default)")
    if graph_version != "beta":
        raise SettingsError("scope-tags need graph-version beta (roleScopeTagIds is beta-only)",
                            fix="set graph-version: beta, or remove scope-tags")
    return tags
