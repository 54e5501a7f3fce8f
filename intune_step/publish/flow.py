"""The publish flow: find the app, plan, lock, upload, commit, point, publish, apply, verify.

Nothing here prints; progress goes to the Reporter. The run is safe to repeat:

- The app is found again by app-id, or by its type and identity (lookup.py); a tag in notes
  records the committed file's SHA-256, so the same file again is ``unchanged`` and writes
  nothing (marker.py).
- Everything is decided from reads first (plan.py, preflight.py): dry-run stops there.
- One run per app at a time (lock.py); two runs creating the same new app keep the older one.
- A new app this run cannot complete is removed; a content version it cannot commit is
  deleted; what a killed run left (an unpublished app, dangling content versions) is reused
  or cleaned up by the next run.
- Metadata, categories and assignments are applied once the app is published, and the app is
  read back to verify before success is reported.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from intune_step.artifacts.base import AppMetadata
from intune_step.artifacts.icon import Icon, from_artifact, from_file
from intune_step.config.options import PublishOptions
from intune_step.config.settings import Settings
from intune_step.config.tuning import Tuning
from intune_step.errors import GraphError, IntuneStepError, ServiceError
from intune_step.graph import assignments as assign_mod
from intune_step.graph import categories as cat_mod
from intune_step.graph.apps import patch_app
from intune_step.graph.bodies import app_body, display_name, update_body
from intune_step.graph.client import GraphClient
from intune_step.graph.lock import (
    AppLock,
    AppVanishedError,
    LockContendedError,
    LockLostError,
    LockPolicy,
    new_run_id,
)
from intune_step.graph.lookup import APPS, AppFinder, identity_fields
from intune_step.graph.tags import ContentTag, LockTag, compose, content_tag, lock_tag, user_notes
from intune_step.graph.versions import VERSION_FIELDS
from intune_step.graph.waits import WaitPolicy
from intune_step.publish.content import ContentVersions, Gate, Published
from intune_step.publish.digests import FileDigests
from intune_step.publish.plan import FieldChange, Plan, changes, same_value
from intune_step.publish.preflight import check_file, check_version
from intune_step.publish.race import CreationCheck, LostCreationRace
from intune_step.publish.result import PublishResult, app_url, version_label
from intune_step.report import Reporter
from intune_step.upload.blob import Uploader

PRESENTATION = ("displayName", "description", "publisher")  # applied once published
OPERATIONS = {"create": "created", "resume": "created", "update": "updated",
              "unchanged": "unchanged"}


@dataclass
class _Run:
    """What one publish run knows: the file, its hash, and the wanted extras."""

    meta: AppMetadata
    options: PublishOptions
    icon: Icon | None  # from the `icon` input
    categories: dict[str, tuple[str, str]]
    known_sha256: str | None = None  # set by the upload's own pass, or read when needed
    digests: FileDigests | None = None  # the run's, shared by its targets (digests.py)

    @property
    def sha256(self) -> str:
        """The file's SHA-256. A new app learns it from the upload's single pass; only
        comparing with an existing app's tag needs it before uploading (a read of its own,
        once per run when the run shares its digests)."""
        if self.known_sha256 is None:
            path = self.meta.content.path
            self.known_sha256 = (self.digests.get(path, lambda p: file_sha256(p))
                                 if self.digests is not None else file_sha256(path))
        return self.known_sha256

    @property
    def tag(self) -> ContentTag:
        return ContentTag(self.meta.app_type, self.meta.identity)


class Publisher:
    def __init__(self, settings: Settings, graph: GraphClient, uploader: Uploader,
                 reporter: Reporter, *, tuning: Tuning | None = None,
                 waits: WaitPolicy | None = None, lock_policy: LockPolicy | None = None,
                 run_id: str | None = None, digests: FileDigests | None = None) -> None:
        self.settings = settings
        self.digests = digests
        self.graph = graph
        self.uploader = uploader
        self.reporter = reporter
        self.tuning = tuning or Tuning()
        self.waits = waits or WaitPolicy.tuned(self.tuning)
        self.lock_policy = lock_policy
        self.run_id = run_id or new_run_id()
        self.finder = AppFinder(graph)
        self.content = ContentVersions(graph, uploader, self.waits, reporter)
        self._artifact_icon: tuple[Icon | None, str] | None = None

    # -- entry point ----------------------------------------------------------------------
    def publish(self, meta: AppMetadata, options: PublishOptions) -> PublishResult:
        check_file(meta)
        icon = from_file(options.icon) if options.icon else None  # bad input: before any call
        run = _Run(meta, options, icon, {}, digests=self.digests)
        if self.lock_policy is None:
            self.lock_policy = LockPolicy.tuned(options.lock_timeout, self.tuning)
        run.categories = cat_mod.resolve(self.graph, options.categories)
        for attempt in range(3):
            try:
                return self._publish_once(run)
            except AppVanishedError:
                if attempt == 2:
                    raise
                self.reporter.info("The app was deleted while this run waited for it; "
                                   "looking for it again")
        raise AssertionError("unreachable")

    def _publish_once(self, run: _Run) -> PublishResult:
        options = run.options
        app = (self.finder.by_id(options.app_id, run.meta) if options.app_id
               else self.finder.find(run.meta))
        plan = self.plan(run, app)
        if options.dry_run:
            return self._dry_run(run, plan)
        self._report(plan)
        if app is None:
            return self._create(run)
        if plan.writes_nothing:
            return self._result(run, app, plan)
        return self._existing(run, str(app["id"]), first_plan=plan)

    # -- planning (reads only) ------------------------------------------------------------
    def plan(self, run: _Run, app: dict[str, Any] | None) -> Plan:
        meta, options = run.meta, run.options
        plan = Plan(operation="create", app_type=meta.app_type, identity=meta.identity,
                    display_name=display_name(meta, options), version=version_label(meta),
                    # A new app needs no hash before uploading: the upload computes it.
                    file_sha256=run.sha256 if app is not None or options.dry_run else "")
        if app is None:
            wanted = {k: v for k, v in app_body(meta, options, self.settings).items()
                      if k in PRESENTATION}
            wanted.update(self._extras(run, None))
            plan.metadata = changes({}, wanted)
            plan.notes += self._icon_notes(run, None)
            if run.categories:
                plan.categories = cat_mod.plan(run.categories, [])
            if options.assignments is not None:
                plan.assignments = assign_mod.diff([], options.assignments,
                                                   options.replace_assignments, meta.app_type,
                                                   self.settings.graph_version)
            return plan
        app_id = str(app["id"])
        plan.app_id = app_id
        plan.display_name = str(app.get("displayName") or plan.display_name)
        plan.current_version = _app_version(app, meta)
        committed = app.get("committedContentVersion")
        tag = content_tag(app.get("notes"))
        holder = lock_tag(app.get("notes"))
        if holder is not None and holder.run_id != self.run_id:
            plan.notes.append(f"run {holder.run_id} holds the app since "
                              f"{holder.since:%Y-%m-%d %H:%M:%S} UTC; a real run waits for it")
        if not committed:
            plan.operation = "resume"
        elif (tag is not None and tag.sha256 == run.sha256
              and str(tag.content_version) == str(committed)):
            plan.operation, plan.upload = "unchanged", False
        else:
            plan.operation = "update"
            plan.notes += check_version(meta, app, options.allow_downgrade)
        if plan.upload:
            plan.content_changes = changes(app, self._content_body(meta, options, app))
        plan.metadata = changes(app, self._metadata_wanted(run, app))
        notes = self._notes_wanted(run)
        if notes is not None and user_notes(app.get("notes")) != notes.rstrip():
            plan.metadata.append(FieldChange("notes", user_notes(app.get("notes")), notes))
        plan.notes += self._icon_notes(run, app)
        if run.categories:
            plan.categories = cat_mod.plan(run.categories, cat_mod.current(self.graph, app_id))
        if options.assignments is not None or options.replace_assignments:
            current = assign_mod.current(self.graph, app_id)
            plan.assignments = assign_mod.diff(current, options.assignments,
                                               options.replace_assignments, meta.app_type,
                                               self.settings.graph_version)
        return plan

    def _content_body(self, meta: AppMetadata, options: PublishOptions,
                      app: dict[str, Any]) -> dict[str, Any]:
        """What goes with committedContentVersion: the fields that describe the content."""
        body = {k: v for k, v in update_body(meta, options, self.settings).items()
                if k not in PRESENTATION and k != "notes"}
        body["@odata.type"] = app.get("@odata.type") or meta.odata_type
        return body

    def _metadata_wanted(self, run: _Run, app: dict[str, Any] | None) -> dict[str, Any]:
        """Names and `properties` the user set, icon and scope tags: applied once published,
        and on every run, so an unchanged file still brings them in line."""
        body = update_body(run.meta, run.options, self.settings)
        keys = set(PRESENTATION) | set(run.options.properties)
        wanted = {k: v for k, v in body.items() if k in keys and k != "notes"}
        wanted.update(self._extras(run, app))
        return wanted

    @staticmethod
    def _notes_wanted(run: _Run) -> str | None:
        """The user's own notes when `properties` sets them (our tags are kept after them)."""
        value = run.options.properties.get("notes")
        return None if value is None else str(value)

    def _extras(self, run: _Run, app: dict[str, Any] | None) -> dict[str, Any]:
        extras: dict[str, Any] = {}
        icon = self._icon_for(run, app)
        if icon is not None:
            extras["largeIcon"] = icon.to_graph()
        if run.options.scope_tags is not None:
            extras["roleScopeTagIds"] = list(run.options.scope_tags)
        return extras

    def _icon_for(self, run: _Run, app: dict[str, Any] | None) -> Icon | None:
        """The input's icon; else the artifact's, only for an app without an icon."""
        if run.icon is not None:
            return run.icon
        icon = self._from_artifact(run.meta)[0]
        if icon is not None and app is not None and self.finder.with_icon(app).get("largeIcon"):
            return None  # keep what an admin (or an earlier run) set
        return icon

    def _from_artifact(self, meta: AppMetadata) -> tuple[Icon | None, str]:
        if self._artifact_icon is None:
            self._artifact_icon = from_artifact(meta)
        return self._artifact_icon

    def _icon_notes(self, run: _Run, app: dict[str, Any] | None) -> list[str]:
        if run.icon is not None:
            return [f"icon: {run.icon.describe()}"]
        if self._icon_for(run, app) is None and app is not None and app.get("largeIcon"):
            return []
        icon, why = self._from_artifact(run.meta)
        return [f"icon: {icon.describe()}" if icon else why]

    def _report(self, plan: Plan) -> None:
        lines = plan.lines()
        self.reporter.info("Plan: " + lines[0])
        for line in lines[1:]:
            self.reporter.info(line)

    def _dry_run(self, run: _Run, plan: Plan) -> PublishResult:
        lines = plan.lines()
        self.reporter.info("Dry run: would " + lines[0])
        for line in lines[1:]:
            self.reporter.info(line)
        self.reporter.info("Plan JSON: " + plan.json_line())
        app_id = plan.app_id or ""
        return PublishResult(
            app_id=app_id, content_version_id="", app_type=run.meta.app_type,
            operation="dry-run", version=version_label(run.meta),
            app_url=app_url(self.settings, app_id) if app_id else "",
            file_sha256=run.sha256, display_name=plan.display_name, plan=plan.json_line(),
        )

    # -- a new app ------------------------------------------------------------------------
    def _create(self, run: _Run) -> PublishResult:
        meta, options = run.meta, run.options
        body = app_body(meta, options, self.settings)
        body["notes"] = compose(body.get("notes"), run.tag, LockTag(self.run_id, _now()))
        if options.scope_tags is not None:
            body["roleScopeTagIds"] = list(options.scope_tags)
        created = self.graph.post(APPS, body, what="create the app", idempotent=False) or {}
        app_id = str(created["id"])
        self.finder.remember_icon(app_id, body.get("largeIcon"))
        self.reporter.info(f"Created {meta.app_type} {app_id}")
        lock = self._lock(app_id)
        lock.adopt()
        assert self.lock_policy is not None
        check = CreationCheck(self.finder, meta, created, self.lock_policy)
        try:
            published = self._publish_content(run, app_id, lock, new_app=True,
                                              gate=check.settle)
            return self._finish(run, app_id, published, "create", lock)
        except LostCreationRace as lost:
            winner = lost.winner
            lock.abandon()  # its app goes: no need to unlock it first
        except BaseException as exc:
            lock.release()
            self._remove_half_created(app_id, exc)
            raise
        self.reporter.info(f"Another run created the same app first ({winner}); this run "
                           f"removes its own copy {app_id} and publishes into {winner}")
        self._remove_half_created(app_id, None, lost_race=winner)
        return self._existing(run, winner, first_plan=None)

    # -- an app that exists ---------------------------------------------------------------
    def _existing(self, run: _Run, app_id: str, first_plan: Plan | None) -> PublishResult:
        while True:
            lock = self._lock(app_id)
            try:
                return self._holding(run, app_id, lock, first_plan)
            except LockContendedError as exc:
                self.reporter.info(exc.message)  # another run took it first: wait for it
                first_plan = None

    def _holding(self, run: _Run, app_id: str, lock: AppLock,
                 first_plan: Plan | None) -> PublishResult:
        """Take the app and publish into it. The lock's settle runs meanwhile (background
        acquire): the plan, the clean-up listing, the new version and the upload change
        nothing another run relies on, and every write that does waits for the lock's answer."""
        app = lock.acquire(background=True)
        try:
            plan = self.plan(run, app)
            if first_plan is None or plan.operation != first_plan.operation:
                self.reporter.info("Plan after taking the app: " + plan.lines()[0])
            if plan.writes_nothing:
                lock.release()
                return self._result(run, app, plan)
            if not plan.upload:
                self._apply(run, app_id, lock)
                return self._result(run, app, plan)  # the metadata PATCH changes none of it
            self.content.clean_up(app, lock)
            try:
                published = self._publish_content(run, app_id, lock, new_app=False, app=app)
            except (LockContendedError, LockLostError):
                raise  # the app is another run's now: nothing of it is this run's to remove
            except BaseException as exc:
                if plan.operation == "resume" and content_tag(app.get("notes")) is not None:
                    lock.release()
                    self._remove_half_created(app_id, exc)
                raise
            return self._finish(run, app_id, published, plan.operation, lock)
        finally:
            lock.release()

    # -- content --------------------------------------------------------------------------
    def _publish_content(self, run: _Run, app_id: str, lock: AppLock, new_app: bool,
                         app: dict[str, Any] | None = None, gate: Gate | None = None
                         ) -> Published:
        body = ({"@odata.type": run.meta.odata_type} if new_app
                else self._content_body(run.meta, run.options, app or {}))
        published = self.content.publish(app_id, run.meta, body, lock, new_app=new_app,
                                         expected_sha256=run.known_sha256, gate=gate)
        run.known_sha256 = published.file_sha256
        if self.digests is not None:
            self.digests.offer(run.meta.content.path, published.file_sha256)
        return published

    # -- once published -------------------------------------------------------------------
    def _finish(self, run: _Run, app_id: str, published: Published, operation: str,
                lock: AppLock) -> PublishResult:
        cv = published.content_version
        self._apply(run, app_id, lock, just_read=published.app)
        app = self._verify(run, app_id, cv)
        return PublishResult(
            app_id=app_id, content_version_id=cv, app_type=run.meta.app_type,
            operation=OPERATIONS[operation], version=version_label(run.meta),
            app_url=app_url(self.settings, app_id), file_sha256=run.sha256,
            display_name=str(app.get("displayName") or display_name(run.meta, run.options)),
        )

    def _apply(self, run: _Run, app_id: str, lock: AppLock,
               just_read: dict[str, Any] | None = None) -> None:
        """Categories, assignments, then metadata with the lock's release in one PATCH.

        ``just_read``: the app as read a moment ago (the read that saw it published), which
        the lock checks instead of reading it again; the PATCH reads again only when
        categories or assignments were written in between."""
        options = run.options
        app = lock.check(just_read)
        fresh: dict[str, Any] | None = app
        if run.categories:
            step = cat_mod.plan(run.categories, cat_mod.current(self.graph, app_id))
            base = f"{self.settings.graph_url}/{self.settings.graph_version}"
            for category_id, name in step.add:
                cat_mod.link(self.graph, base, app_id, category_id, name)
                self.reporter.info(f"Added category '{name}'")
                fresh = None
        if options.assignments is not None or options.replace_assignments:
            current = assign_mod.current(self.graph, app_id)
            diff = assign_mod.diff(current, options.assignments, options.replace_assignments,
                                   run.meta.app_type, self.settings.graph_version)
            if not diff.empty:
                self.graph.post(f"{APPS}/{app_id}/assign",
                                {"mobileAppAssignments": list(diff.body)},
                                what="assign the app")
                fresh = None
                for line in diff.lines():
                    self.reporter.info(f"Assignment {line}")
        wanted = self._metadata_wanted(run, app)
        body = {c.field: wanted[c.field] for c in changes(app, wanted)}
        notes = self._notes_wanted(run)
        updated = sorted(body)
        if notes is not None and user_notes(app.get("notes")) != notes.rstrip():
            updated.append("notes")
        lock.patch(body, "update the app's metadata" if updated else "unlock the app",
                   release=True, user_notes=notes, just_read=fresh)
        if updated:
            self.reporter.info("Updated " + ", ".join(updated))

    def _verify(self, run: _Run, app_id: str, cv: str) -> dict[str, Any]:
        """Read the app back: the committed version, its state, version and identity fields,
        and our tag must all be what this run published."""
        meta = run.meta
        app = self.finder.read(app_id)
        problems = []
        if str(app.get("committedContentVersion")) != cv:
            problems.append(f"committedContentVersion is {app.get('committedContentVersion')}, "
                            f"not {cv}")
        if app.get("publishingState", "published") != "published":
            problems.append(f"publishingState is {app.get('publishingState')}")
        fields = [f for f in (*VERSION_FIELDS.get(meta.app_type, ()), *identity_fields(meta))
                  if "." not in f and f in meta.properties]
        for field in fields:
            if field in app and not same_value(field, app.get(field), meta.properties[field]):
                problems.append(f"{field} is {app.get(field)!r}, not {meta.properties[field]!r}")
        tag = content_tag(app.get("notes"))
        if tag is None or tag.sha256 != run.sha256 or tag.content_version != cv:
            problems.append("the notes do not record this file as committed")
        if problems:
            raise ServiceError(f"app {app_id} does not show what was published: "
                               + "; ".join(problems),
                               fix="re-run the step (the same file resumes or reports "
                               "unchanged); if it persists, check the app in Intune")
        self.reporter.info(f"Verified app {app_id}: content version {cv} is published")
        return app

    def _result(self, run: _Run, app: dict[str, Any], plan: Plan) -> PublishResult:
        app_id = str(app["id"])
        self.reporter.info(f"Unchanged: {plan.display_name} ({app_id}) already has this file "
                           f"as content version {app.get('committedContentVersion')}")
        return PublishResult(
            app_id=app_id, content_version_id=str(app.get("committedContentVersion") or ""),
            app_type=run.meta.app_type, operation=OPERATIONS[plan.operation],
            version=version_label(run.meta), app_url=app_url(self.settings, app_id),
            file_sha256=run.sha256, display_name=plan.display_name,
        )

    # -- helpers --------------------------------------------------------------------------
    def _lock(self, app_id: str) -> AppLock:
        assert self.lock_policy is not None
        return AppLock(lambda: self.finder.read(app_id), self._patch_app, app_id, self.run_id,
                       self.reporter, self.lock_policy)

    def _patch_app(self, app: dict[str, Any], body: dict[str, Any], what: str) -> None:
        patch_app(self.graph, app, body, what,
                  icon=None if "largeIcon" in body else self.finder.with_icon(app).get("largeIcon"))
        if "largeIcon" in body:
            self.finder.remember_icon(str(app["id"]), body["largeIcon"])

    def _remove_half_created(self, app_id: str, cause: BaseException | None,
                             lost_race: str | None = None) -> None:
        try:
            self.graph.delete(f"{APPS}/{app_id}", what="remove the half-created app")
        except GraphError as exc:
            if exc.status == 404:
                return
            self.reporter.warning(
                f"Could not remove the half-created app {app_id}: {exc.one_line()}")
            return
        except IntuneStepError as exc:
            self.reporter.warning(
                f"Could not remove the half-created app {app_id}: {exc.one_line()}")
            return
        if lost_race:
            self.reporter.info(f"Removed this run's copy {app_id}; {lost_race} is kept")
        else:
            self.reporter.warning(f"Removed the half-created app {app_id} after the failure")


def _app_version(app: dict[str, Any], meta: AppMetadata) -> str | None:
    for field in VERSION_FIELDS.get(meta.app_type, ()):
        if app.get(field) not in (None, ""):
            return str(app[field])
    return None



def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
