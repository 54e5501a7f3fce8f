"""Win32 versions: one app per version that supersedes the last, dependencies and retention.

In ``new-app`` mode every version of a product is an app of its own, found by the product's
identity (MSI product code or our tag, never the display name alone) and its ``displayVersion``.
A run:

1. reads everything first: the product's versions, the dependencies (IDs or names), the
   supersedence graph around the previous version; refuses a missing or ambiguous
   dependency, a dependency on itself and a cycle before any write;
2. publishes this version's app the usual way (publish/flow.py), with a finder that sees only
   this version, so a re-run resumes or reports it unchanged;
3. writes its relationships (supersede the previous version, depend on the listed apps),
   keeping any other relationship it already had; if that fails on an app this run created,
   the app is removed, so the old version stays the only one assigned;
4. moves the assignments: the wanted ones (the input, else the previous version's) onto this
   version, then clears every older version's;
5. retires versions beyond ``keep-versions`` that this tool published, that nothing depends
   on and that nothing is assigned to, and unlinks the oldest versions when the supersedence
   graph would pass the service's limit.

Each step compares before it writes, so running it again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from intune_step.artifacts.base import AppMetadata
from intune_step.config.lifecycle import (
    MAX_DEPENDENCY_NODES,
    MAX_SUPERSEDENCE_NODES,
    Dependency,
    Lifecycle,
)
from intune_step.config.options import PublishOptions
from intune_step.config.text import GUID
from intune_step.errors import BadInputError, GraphError, IntuneStepError, SettingsError
from intune_step.graph import assignments as assign_mod
from intune_step.graph import relationships as rel
from intune_step.graph.assignments import body_of, from_graph
from intune_step.graph.client import GraphClient
from intune_step.graph.lookup import APPS, AppFinder, creation_order, graph_type
from intune_step.graph.tags import content_tag
from intune_step.graph.versions import parse_version
from intune_step.graph.win32 import plan as win32_fields
from intune_step.publish.flow import Publisher
from intune_step.publish.result import PublishResult
from intune_step.report import Reporter

AUTO_UPDATE = {"@odata.type": "#microsoft.graph.win32LobAppAutoUpdateSettings",
               "autoUpdateSupersededAppsState": "enabled"}
WIN32_SETTINGS = "#microsoft.graph.win32LobAppAssignmentSettings"
WIN32 = "win32LobApp"


def applies(meta: AppMetadata, options: PublishOptions) -> bool:
    """Whether a run needs this module: new-app versioning, or dependencies to write."""
    life = options.win32.lifecycle if options.win32 else Lifecycle()
    return meta.app_type == "win32LobApp" and (
        options.versioning == "new-app" or bool(life.dependencies))


def check_offline(meta: AppMetadata, options: PublishOptions, graph_version: str) -> None:
    """What can be refused from the inputs alone, before sign-in."""
    if options.versioning != "new-app":
        life = options.win32.lifecycle if options.win32 else Lifecycle()
        if life.keep_versions is not None or life.supersedence != "update" \
                or life.auto_update_superseded:
            raise SettingsError(
                "win32 supersedence, auto-update-superseded and keep-versions need "
                "versioning: new-app (in place there is one app, and nothing to supersede)",
                fix="set versioning: new-app, or remove those keys")
        return
    if meta.app_type != "win32LobApp":
        raise SettingsError(
            f"versioning: new-app is for Win32 apps (.intunewin), and {meta.file_name} is a "
            f"{meta.app_type}; Intune installs LOB and store apps over the same app",
            fix="remove versioning for this file, or leave it in-place")
    if options.app_id:
        raise SettingsError("app-id names one app, but versioning: new-app makes one app per "
                            "version", fix="remove app-id; versions are found by the product")
    if graph_version != "beta":
        raise SettingsError("versioning: new-app needs graph-version beta (supersedence and "
                            "displayVersion are beta-only)", fix="set graph-version: beta")
    if not version_of_meta(meta, options):
        raise SettingsError(
            f"versioning: new-app tells versions apart by displayVersion, and "
            f"{meta.file_name} has none", fix="set win32 display-version: '1.2.3'")


def version_of_meta(meta: AppMetadata, options: PublishOptions) -> str:
    """The displayVersion the app gets: the win32 input's, else the MSI's ProductVersion."""
    fields = win32_fields(meta, options.win32, creating=True, graph_version="beta")
    return str(fields.get("displayVersion") or "").strip()


@dataclass(frozen=True)
class Version:
    """One app of the product: one version."""

    app: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.app["id"])

    @property
    def label(self) -> str:
        return str(self.app.get("displayVersion") or "").strip()

    @property
    def ours(self) -> bool:
        return content_tag(self.app.get("notes")) is not None

    def order(self) -> tuple[Any, ...]:
        """Newest last: by version number where it parses, then by creation."""
        parsed = parse_version(self.label)
        return (parsed is not None, parsed or (), creation_order(self.app))

    def describe(self) -> str:
        return f"{self.label or '?'} ({self.id})"


def same_version(a: str, b: str) -> bool:
    pa, pb = parse_version(a), parse_version(b)
    return pa == pb if pa is not None and pb is not None else a.strip() == b.strip()


class VersionFinder(AppFinder):
    """The app of this version only: every other version of the product is another app."""

    def __init__(self, graph: GraphClient, version: str) -> None:
        super().__init__(graph)
        self.version = version

    def candidates(self, meta: AppMetadata,
                   known: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [app for app in super().candidates(meta, known)
                if same_version(str(app.get("displayVersion") or ""), self.version)]


@dataclass
class LifecyclePlan:
    """What the run will do around the app itself; every line is shown before any write."""

    new_app: bool
    version: str
    this: Version | None  # the app of this version, when it exists already
    previous: Version | None  # the newest older version
    wanted: tuple[rel.Relation, ...]  # our relationships for this version's app
    carry_from: Version | None  # whose assignments this version takes
    clear: list[Version] = field(default_factory=list)  # older versions losing assignments
    retire: list[Version] = field(default_factory=list)
    unlink: list[tuple[str, str]] = field(default_factory=list)  # (app, superseded target)
    # Each version's assignments as read while planning (new-app mode).
    assigned: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        if self.new_app:
            out.append(f"version {self.version}: "
                       + (f"app {self.this.id}" if self.this else "new app"))
        out += [f"  {r.describe()}" for r in self.wanted]
        if self.carry_from is not None:
            out.append(f"  takes the assignments of {self.carry_from.describe()}")
        out += [f"  clears the assignments of {v.describe()}" for v in self.clear]
        out += [f"  unlinks {target} from {app} (supersedence graph limit "
                f"{MAX_SUPERSEDENCE_NODES})" for app, target in self.unlink]
        out += [f"  retires {v.describe()} (keep-versions)" for v in self.retire]
        return out + [f"  note: {n}" for n in self.notes]


class Win32Lifecycle:
    """Publishes one Win32 file with its versions' relationships, assignments and retention."""

    def __init__(self, publisher: Publisher, graph: GraphClient, reporter: Reporter) -> None:
        self.publisher = publisher
        self.graph = graph
        self.reporter = reporter
        self.graph_version = publisher.settings.graph_version

    # -- the run --------------------------------------------------------------------------
    def publish(self, meta: AppMetadata, options: PublishOptions) -> PublishResult:
        life = options.win32.lifecycle if options.win32 else Lifecycle()
        new_app = options.versioning == "new-app"
        version = version_of_meta(meta, options)
        if new_app:
            self.publisher.finder = VersionFinder(self.graph, version)
        plan = self.plan(meta, options, life, new_app, version)
        for line in plan.lines():
            self.reporter.info(("Versions (dry run): " if options.dry_run else "Versions: ")
                               + line.strip())
        if options.dry_run:
            return self.publisher.publish(meta, options)
        # In new-app mode the assignments follow the relationships (step 4).
        held = replace(options, assignments=None, replace_assignments=False) if new_app \
            else options
        result = self.publisher.publish(meta, held)
        self._write_relationships(result, plan)
        if new_app:
            self._move_assignments(result.app_id, plan, options, life)
            self._unlink_and_retire(plan)
        return result

    # -- planning (reads only) ------------------------------------------------------------
    def plan(self, meta: AppMetadata, options: PublishOptions, life: Lifecycle,
             new_app: bool, version: str) -> LifecyclePlan:
        versions = self.versions(meta) if new_app else []
        this = next((v for v in versions if same_version(v.label, version)), None)
        if not new_app:
            finder = self.publisher.finder  # the one the publish asks next: its reads are shared
            found = (finder.by_id(options.app_id, meta) if options.app_id
                     else finder.find(meta))
            this = Version(found) if found else None
        mine = {v.id for v in versions} | ({this.id} if this else set())
        wanted = list(self._dependencies(life.dependencies, meta, mine))
        older = sorted((v for v in versions if v is not this and older_than(v, version)),
                       key=Version.order)
        previous = older[-1] if older else None
        if previous is not None:
            wanted.insert(0, rel.Relation(rel.SUPERSEDENCE, previous.id, life.supersedence,
                                          previous.app.get("displayName") or ""))
        plan = LifecyclePlan(new_app, version, this, previous, tuple(wanted),
                             carry_from=None)
        if not new_app:
            return plan
        plan.assigned = assigned = {v.id: assign_mod.current(self.graph, v.id) for v in versions}
        if options.assignments is None and this is not None and assigned.get(this.id):
            plan.carry_from = None  # already assigned: a re-run keeps what it has
        else:
            plan.carry_from = next((v for v in reversed(older) if assigned.get(v.id)), None)
        plan.clear = [v for v in older if assigned.get(v.id)]
        keep = life.keep_versions
        if keep is not None:
            newest_first = list(reversed(older))
            for stale in newest_first[keep - 1:]:
                why = self._cannot_retire(stale)
                if why:
                    plan.notes.append(f"keeps {stale.describe()}: {why}")
                else:
                    plan.retire.append(stale)
        if previous is not None:
            self._plan_graph_limit(plan, older)
        if life.auto_update_superseded and not any(
                a.get("intent") == "available" for a in self._carried(plan, options)):
            plan.notes.append("auto-update-superseded applies to 'available' assignments only, "
                              "and this version has none")
        return plan

    def versions(self, meta: AppMetadata) -> list[Version]:
        """Every app of this product (same identity), each one version."""
        return [Version(app) for app in AppFinder(self.graph).candidates(meta)]

    def _carried(self, plan: LifecyclePlan, options: PublishOptions) -> list[dict[str, Any]]:
        if options.assignments is not None:
            return [body_of(a, WIN32, self.graph_version) for a in options.assignments]
        source = plan.carry_from or plan.this
        return plan.assigned.get(source.id, []) if source else []

    def _cannot_retire(self, version: Version) -> str:
        if not version.ours:
            return "it was not published by intune-step"
        found = rel.read(self.graph, version.id)
        if found.dependents():
            return f"{len(found.dependents())} app(s) depend on it"
        return ""

    def _plan_graph_limit(self, plan: LifecyclePlan, older: list[Version]) -> None:
        """Unlink the oldest of our versions while the graph would pass the limit."""
        assert plan.previous is not None
        nodes = rel.graph_of(self.graph, [plan.previous.id], supersedence=True,
                             limit=MAX_SUPERSEDENCE_NODES * 2)
        nodes -= {v.id for v in plan.retire}
        by_id = {v.id: v for v in older}
        oldest_first = [by_id[n] for n in sorted(
            (n for n in nodes if n in by_id and by_id[n].ours),
            key=lambda n: by_id[n].order())]
        while len(nodes) + 1 > MAX_SUPERSEDENCE_NODES and oldest_first:
            stale = oldest_first.pop(0)
            for parent in rel.read(self.graph, stale.id).superseded_by():
                if parent in nodes:
                    plan.unlink.append((parent, stale.id))
            nodes.discard(stale.id)
        if len(nodes) + 1 > MAX_SUPERSEDENCE_NODES:
            raise BadInputError(
                f"the supersedence graph of {plan.previous.describe()} already holds "
                f"{len(nodes)} apps; Intune allows {MAX_SUPERSEDENCE_NODES}",
                fix="remove supersedence relationships in Intune, or set keep-versions")

    def _dependencies(self, wanted: tuple[Dependency, ...], meta: AppMetadata,
                      mine: set[str]) -> list[rel.Relation]:
        """Each dependency resolved to a Win32 app; self-dependency and cycles refused."""
        relations = []
        for dependency in wanted:
            app = self._resolve(dependency)
            if app["id"] in mine:
                raise BadInputError(f"win32 dependencies: {dependency.app} is this app "
                                    f"({meta.identity}) itself",
                                    fix="an app cannot depend on itself or another of its "
                                        "versions; remove that dependency")
            relations.append(rel.Relation(rel.DEPENDENCY, str(app["id"]), dependency.kind,
                                          str(app.get("displayName") or "")))
        if relations:
            needed = rel.depends_on(self.graph, [r.target_id for r in relations],
                                    limit=MAX_DEPENDENCY_NODES)
            loop = needed & mine
            if loop:
                raise BadInputError(
                    f"win32 dependencies would make a cycle: {', '.join(sorted(loop))} "
                    f"(this app) is already needed by an app it would depend on",
                    fix="remove the dependency that leads back to this app")
            if len(needed) + 1 > MAX_DEPENDENCY_NODES:
                raise BadInputError(
                    f"win32 dependencies reach {len(needed)} apps; Intune allows "
                    f"{MAX_DEPENDENCY_NODES} with the app itself", fix="depend on fewer apps")
        return relations

    def _resolve(self, dependency: Dependency) -> dict[str, Any]:
        if GUID.match(dependency.app):
            try:
                app = self.graph.get(f"{APPS}/{dependency.app}",
                                     what=f"read dependency {dependency.app}")
            except GraphError as exc:
                if exc.status == 404:
                    raise BadInputError(f"win32 dependencies: no app {dependency.app} in this "
                                        "tenant", fix="check the app ID") from exc
                raise
            found = [app]
        else:
            name = dependency.app.replace("'", "''")
            found = list(self.graph.get_all(
                APPS, params={"$filter": f"isof('microsoft.graph.win32LobApp') and "
                                         f"displayName eq '{name}'"},
                what=f"find dependency '{dependency.app}'"))
        if not found:
            raise BadInputError(f"win32 dependencies: no Win32 app is named "
                                f"'{dependency.app}'",
                                fix="use the exact display name, or the app's ID")
        if len(found) > 1:
            listed = "; ".join(f"{a.get('id')} ({a.get('displayVersion') or '?'})"
                               for a in found)
            raise BadInputError(f"win32 dependencies: {len(found)} Win32 apps are named "
                                f"'{dependency.app}': {listed}", fix="use the app's ID")
        app = found[0]
        if graph_type(app) != "win32LobApp":
            raise BadInputError(f"win32 dependencies: {dependency.app} is a "
                                f"{graph_type(app) or 'different app'}; a Win32 app can only "
                                "depend on Win32 apps", fix="depend on a Win32 app")
        return app

    # -- the writes -----------------------------------------------------------------------
    def _write_relationships(self, result: PublishResult, plan: LifecyclePlan) -> None:
        if not plan.wanted:
            return
        try:
            current = rel.read(self.graph, result.app_id)
            merged = rel.merge(current.own, plan.wanted)
            if rel.same(current.own, merged):
                return
            rel.write(self.graph, result.app_id, merged)
        except IntuneStepError as exc:
            if result.operation == "created":
                self._remove_new(result.app_id, exc)
            raise
        for relation in plan.wanted:
            self.reporter.info(f"App {result.app_id} {relation.describe()}")

    def _remove_new(self, app_id: str, cause: IntuneStepError) -> None:
        """A new version whose relationships could not be written is not a release."""
        try:
            self.graph.delete(f"{APPS}/{app_id}", what="remove the new version")
        except IntuneStepError as exc:
            self.reporter.warning(f"Could not remove the new version {app_id}: "
                                  f"{exc.one_line()}")
            return
        self.reporter.warning(f"Removed the new version {app_id}: its relationships could not "
                              f"be written ({cause.one_line()})")

    def _move_assignments(self, app_id: str, plan: LifecyclePlan, options: PublishOptions,
                          life: Lifecycle) -> None:
        """The wanted assignments onto this version, then off every older one."""
        current = assign_mod.current(self.graph, app_id)
        if options.assignments is not None:
            wanted = [body_of(a, WIN32, self.graph_version) for a in options.assignments]
        elif plan.carry_from is not None:
            wanted = [assign_mod.resend(a) for a in plan.assigned[plan.carry_from.id]]
        else:
            wanted = [assign_mod.resend(a) for a in current]
        if life.auto_update_superseded and plan.previous is not None:
            wanted = [_auto_update(a) for a in wanted]
        if _targets(wanted) != _targets(current):
            self.graph.post(f"{APPS}/{app_id}/assign", {"mobileAppAssignments": wanted},
                            what="assign the new version")
            source = plan.carry_from.describe() if plan.carry_from else "the input"
            self.reporter.info(f"Assigned version {plan.version} ({len(wanted)} assignment(s) "
                               f"from {source})")
        for old in plan.clear:
            self.graph.post(f"{APPS}/{old.id}/assign", {"mobileAppAssignments": []},
                            what=f"clear the assignments of {old.describe()}")
            self.reporter.info(f"Cleared the assignments of version {old.describe()}")

    def _unlink_and_retire(self, plan: LifecyclePlan) -> None:
        stale = {v.id for v in plan.retire}
        unlink: dict[str, set[str]] = {}
        for app, target in plan.unlink:
            unlink.setdefault(app, set()).add(target)
        for version in plan.retire:  # whoever supersedes a retired version lets go of it
            for parent in rel.read(self.graph, version.id).superseded_by():
                if parent not in stale:
                    unlink.setdefault(parent, set()).add(version.id)
        for app, targets in unlink.items():
            current = rel.read(self.graph, app)
            kept = rel.merge(current.own, (), drop=targets)
            if not rel.same(current.own, kept):
                rel.write(self.graph, app, kept)
                self.reporter.info(f"App {app} no longer supersedes {', '.join(sorted(targets))}")
        for version in plan.retire:
            if assign_mod.current(self.graph, version.id):
                self.reporter.warning(f"Kept {version.describe()}: it is assigned again")
                continue
            self.graph.delete(f"{APPS}/{version.id}", what=f"retire {version.describe()}")
            self.reporter.info(f"Retired version {version.describe()} (keep-versions)")


def older_than(version: Version, than: str) -> bool:
    a, b = parse_version(version.label), parse_version(than)
    if a is not None and b is not None:
        return a < b
    return version.label < than  # not dotted numbers: creation order decides the rest


def _auto_update(item: dict[str, Any]) -> dict[str, Any]:
    """Turn on auto-update of superseded versions: the service takes it on 'available' only."""
    if str(item.get("intent")) != "available":
        return item
    settings = dict(item.get("settings") or {"@odata.type": WIN32_SETTINGS})
    settings["autoUpdateSettings"] = dict(AUTO_UPDATE)
    return {**item, "settings": settings}


def _targets(items: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Assignments compared by what they mean: intent, target and settings."""
    out = []
    for item in items:
        parsed = from_graph(item)
        key = parsed.key if parsed else repr(item.get("target"))
        out.append((str(item.get("intent", "")).lower(), key, repr(item.get("settings"))))
    return sorted(out)
