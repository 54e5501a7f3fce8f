"""Rings: publishing to one, and promoting a build from one ring to the next (docs/rings.md).

A promotion adds the next ring's assignments to the build's app and keeps every other
assignment as it is, settings included; with ``promote-from`` it moves them instead (the
earlier ring's targets are removed unless the next ring names them too). The rings a build
has reached are marks in the app's notes (graph/tags.py), for this content version only.
Everything is read and decided first: a dry run prints the plan, and a second run finds
nothing to write.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from intune_step.artifacts.base import AppMetadata
from intune_step.config.options import PublishOptions
from intune_step.config.rings import Ring
from intune_step.errors import BadInputError, SettingsError
from intune_step.graph import assignments as assign_mod
from intune_step.graph.apps import patch_app
from intune_step.graph.client import GraphClient
from intune_step.graph.directory import Directory
from intune_step.graph.lookup import APPS, AppFinder
from intune_step.graph.tags import content_tag, rings_reached, with_ring
from intune_step.publish.lifecycle import VersionFinder, version_of_meta
from intune_step.report import Reporter


@dataclass(frozen=True)
class PromoteResult:
    app_id: str
    operation: str  # promoted | unchanged | dry-run
    rings: tuple[str, ...]  # the rings this build has reached (after the run)
    plan: str = ""  # dry run: the plan as one line of JSON


def resolve_ring(directory: Directory, ring: Ring | None, app_type: str) -> Ring | None:
    """``ring`` with names resolved and filter platforms checked: before any write."""
    if ring is None:
        return None
    resolved = directory.resolve(ring.assignments)
    directory.check_platforms(resolved, app_type)
    return Ring(ring.name, resolved)


def record_ring(graph: GraphClient, finder: AppFinder, app_id: str, ring: str,
                reporter: Reporter) -> tuple[str, ...]:
    """Mark ``ring`` as reached by the app's committed build; no write when it is."""
    app = finder.read(app_id)
    cv = app.get("committedContentVersion")
    reached = rings_reached(app.get("notes"), cv)
    if ring not in reached:
        notes = with_ring(app.get("notes"), ring, cv, datetime.now(UTC).replace(microsecond=0))
        patch_app(graph, app, {"notes": notes}, what=f"record ring {ring} on the app")
        reporter.info(f"Ring {ring} reached (content version {cv})")
        reached.append(ring)
    return tuple(reached)


class Promotion:
    def __init__(self, graph: GraphClient, directory: Directory, reporter: Reporter,
                 graph_version: str) -> None:
        self.graph = graph
        self.directory = directory
        self.reporter = reporter
        self.graph_version = graph_version
        self.finder = AppFinder(graph)

    def run(self, meta: AppMetadata, options: PublishOptions, file_sha256: str) -> PromoteResult:
        if options.promote_to is None:
            raise SettingsError("promote needs promote-to: the ring to promote the build to",
                                fix=f"set promote-to to one of: "
                                    f"{', '.join(options.rings.names()) or '(no rings)'}")
        target = resolve_ring(self.directory, options.promote_to, meta.app_type)
        source = resolve_ring(self.directory, options.promote_from, meta.app_type)
        assert target is not None
        app = self._build(meta, options, file_sha256)
        app_id = str(app["id"])
        cv = app.get("committedContentVersion")
        reached = rings_reached(app.get("notes"), cv)
        needed = options.promote_from or options.rings.before(options.promote_to)
        if needed is not None and needed.name not in reached and target.name not in reached:
            raise BadInputError(
                f"the build in app {app_id} has not reached ring {needed.name} (it has reached: "
                f"{', '.join(reached) or 'none'})",
                fix=f"publish it with ring: {needed.name} first, or promote it there")
        current = assign_mod.current(self.graph, app_id)
        wanted_keys = {a.key for a in target.assignments}
        leaving = {a.key for a in source.assignments} - wanted_keys if source else set()
        staying, removed = [], []
        for item in current:
            have = assign_mod.from_graph(item)
            if have is not None and have.key in leaving:
                removed.append(have)
            else:
                staying.append(item)
        diff = assign_mod.diff(staying, target.assignments, False, meta.app_type,
                               self.graph_version)
        lines = diff.lines() + [f"- {a.describe()}" for a in removed]
        marks = target.name not in reached
        plan = {"app": app_id, "from": source.name if source else None, "to": target.name,
                "assignments": {**diff.to_json(), "remove": [a.to_json() for a in removed]},
                "record": marks}
        title = f"promote app {app_id} to ring {target.name}"
        if source:
            title += f" (moving it off ring {source.name})"
        if options.dry_run:
            self.reporter.info(f"Dry run: would {title}")
            for line in lines or ["(no assignment changes)"]:
                self.reporter.info(f"Assignment {line}")
            text = json.dumps(plan, separators=(",", ":"), ensure_ascii=False)
            self.reporter.info("Plan JSON: " + text)
            after = tuple(reached) if not marks else (*reached, target.name)
            return PromoteResult(app_id, "dry-run", after, text)
        if not lines and not marks:
            self.reporter.info(f"Unchanged: app {app_id} is already on ring {target.name}")
            return PromoteResult(app_id, "unchanged", tuple(reached))
        self.reporter.info(f"Plan: {title}")
        if lines:
            self.graph.post(f"{APPS}/{app_id}/assign",
                            {"mobileAppAssignments": list(diff.body)},
                            what=f"assign ring {target.name}")
            for line in lines:
                self.reporter.info(f"Assignment {line}")
        after = record_ring(self.graph, self.finder, app_id, target.name, self.reporter)
        return PromoteResult(app_id, "promoted", after)

    def _build(self, meta: AppMetadata, options: PublishOptions,
               file_sha256: str) -> dict[str, Any]:
        """The app that holds this build: app-id, this Win32 version, or the app itself,
        whose committed file must be this one."""
        if options.app_id:
            return self.finder.by_id(options.app_id, meta)
        finder = self.finder
        if meta.app_type == "win32LobApp" and options.versioning == "new-app":
            finder = VersionFinder(self.graph, version_of_meta(meta, options))
        app = finder.find(meta)
        if app is None:
            raise BadInputError(f"no app in this tenant holds {meta.file_name}",
                                fix="publish it (with ring: <first ring>) before promoting it")
        tag = content_tag(app.get("notes"))
        if tag is None or tag.sha256 != file_sha256 \
                or str(tag.content_version) != str(app.get("committedContentVersion")):
            raise BadInputError(
                f"app {app['id']} holds another build than {meta.file_name}: promoting it "
                "would release that build", fix="publish this file first, or give app-id")
        return app
