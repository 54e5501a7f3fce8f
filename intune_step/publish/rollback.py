"""Rollback: the assignments of a bad Win32 version go back to the version before it.

Only where versions are separate apps (``versioning: new-app``) is there anything to go back
to. iOS and Android LOB apps install over the same app, and devices do not go back to a lower
build, so a rollback there is refused with what to do instead. The move is recorded in the bad
version's tags, and a second run finds nothing left to move. With a ring, only that ring's
assignments go back; the bad version keeps the others and the earlier version keeps its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from intune_step.artifacts.base import AppMetadata
from intune_step.config.options import PublishOptions
from intune_step.errors import BadInputError
from intune_step.graph import assignments as assign_mod
from intune_step.graph.apps import patch_app
from intune_step.graph.assignments import from_graph
from intune_step.graph.client import GraphClient
from intune_step.graph.lookup import APPS, AppFinder, graph_type
from intune_step.graph.tags import rollback_mark, with_mark
from intune_step.publish.lifecycle import (
    Version,
    VersionFinder,
    older_than,
    version_of_meta,
)
from intune_step.report import Reporter

MOBILE = {"iosLobApp": "iOS", "androidLobApp": "Android", "macOSLobApp": "macOS"}


@dataclass(frozen=True)
class RollbackResult:
    app_id: str  # the version that holds the assignments now
    rolled_back: str  # the version that lost them
    operation: str  # rolled-back | unchanged


def refuse_type(app_type: str) -> None:
    """Refuse what no rollback can undo, naming why and what to do instead."""
    if app_type == "win32LobApp":
        return
    platform = MOBILE.get(app_type)
    if platform:
        raise BadInputError(
            f"cannot roll back a {platform} LOB app ({app_type}): Intune installs each build "
            "over the same app, and devices do not install a lower build over a higher one",
            fix="ship the fix as a new build with a higher build number (CFBundleVersion / "
                "versionCode) and publish it")
    raise BadInputError(
        f"cannot roll back a {app_type}: only Win32 apps published with versioning: new-app "
        "keep earlier versions as apps of their own",
        fix="publish the previous build again (allow-downgrade: true), or use Win32 "
            "versioning: new-app for future releases")


class Rollback:
    def __init__(self, graph: GraphClient, reporter: Reporter) -> None:
        self.graph = graph
        self.reporter = reporter

    def run(self, meta: AppMetadata, options: PublishOptions) -> RollbackResult:
        dry_run = options.dry_run
        bad = self._bad_version(meta, options)
        refuse_type(graph_type(bad.app))
        versions = [Version(a) for a in AppFinder(self.graph).candidates(meta)]
        older = sorted((v for v in versions if v.id != bad.id and older_than(v, bad.label)),
                       key=Version.order)
        if not older:
            raise BadInputError(
                f"{bad.describe()} has no earlier version to roll back to (updated in place, "
                "or the earlier versions were retired)",
                fix="publish the previous build again, or use versioning: new-app (with "
                    "keep-versions of 2 or more) for future releases")
        previous = older[-1]
        held = assign_mod.current(self.graph, bad.id)
        moving, staying = held, []
        if options.ring is not None:
            keys = {a.key for a in options.ring.assignments}
            moving = [a for a in held if _key(a) in keys]
            staying = [a for a in held if _key(a) not in keys]
        if not moving:
            self.reporter.info(f"Unchanged: {bad.describe()} has no assignments to move back "
                               f"(the previous version is {previous.describe()})")
            return RollbackResult(previous.id, bad.id, "unchanged")
        ring = f" of ring {options.ring.name}" if options.ring is not None else ""
        self.reporter.info(f"Rollback: {len(moving)} assignment(s){ring} from {bad.describe()} "
                           f"back to {previous.describe()}")
        if dry_run:
            return RollbackResult(previous.id, bad.id, "dry-run")
        keys = {_key(a) for a in moving}
        kept = ([assign_mod.resend(a) for a in assign_mod.current(self.graph, previous.id)
                 if _key(a) not in keys] if options.ring is not None else [])
        self.graph.post(f"{APPS}/{previous.id}/assign",
                        {"mobileAppAssignments": kept + [assign_mod.resend(a) for a in moving]},
                        what=f"assign {previous.describe()}")
        self.graph.post(f"{APPS}/{bad.id}/assign",
                        {"mobileAppAssignments": [assign_mod.resend(a) for a in staying]},
                        what=f"clear the assignments{ring} of {bad.describe()}")
        when = datetime.now(UTC).replace(microsecond=0)
        notes = with_mark(bad.app.get("notes"), rollback_mark(previous.id, when))
        patch_app(self.graph, bad.app, {"notes": notes},
                  what=f"record the rollback on {bad.describe()}")
        left = f"{len(staying)} other(s)" if staying else "none"
        self.reporter.info(f"Rolled back: {previous.describe()} has the assignments{ring}; "
                           f"{bad.describe()} has {left}")
        return RollbackResult(previous.id, bad.id, "rolled-back")

    def _bad_version(self, meta: AppMetadata, options: PublishOptions) -> Version:
        if options.app_id:
            return Version(AppFinder(self.graph).by_id(options.app_id, meta))
        refuse_type(meta.app_type)
        label = version_of_meta(meta, options)
        if not label:
            raise BadInputError(f"{meta.file_name} has no displayVersion to find its version "
                                "by", fix="set win32 display-version, or give app-id")
        found = VersionFinder(self.graph, label).find(meta)
        if found is None:
            raise BadInputError(f"no app in this tenant is version {label} of "
                                f"{meta.identity}", fix="check the file, or give app-id")
        return Version(found)




def _key(item: dict[str, Any]) -> str:
    parsed = from_graph(item)
    return parsed.key if parsed is not None else repr(item.get("target"))
