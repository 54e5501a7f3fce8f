"""Win32 supersedence and dependency relationships, as the service documents them.

- ``GET mobileApps/{id}/relationships`` lists both directions: the app's own rows
  (``targetType: child``) and the rows of apps that point at it (``targetType: parent``).
- ``POST mobileApps/{id}/updateRelationships`` replaces the app's own rows, all at once.
  A parent row sent back, an app relating to itself, a cycle, a target that is not a Win32 app
  and a graph over the documented limits are refused with 400; success is 204.
- An app that other apps depend on cannot be deleted.

Beta only, like the properties that count relationships. The limits are the documented ones
(a supersedence graph of 10 apps, a dependency graph of 100 with the app itself); see
docs/protocol.md, "Relationships".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import apptypes
from .config import EmulatorConfig
from .graph_common import Ctx, bad_request, method_not_allowed, segment_error
from .server import Response
from .state import App, State

KINDS = {"mobileappsupersedence": "supersedence", "mobileappdependency": "dependency"}
DETAIL = {"supersedence": ("supersedenceType", ("update", "replace")),
          "dependency": ("dependencyType", ("detect", "autoInstall"))}
# What a client may send back from a read; the service ignores these read-only fields.
READ_ONLY = {"id", "targetDisplayName", "targetDisplayVersion", "targetPublisher",
             "targetPublisherDisplayName", "sourceId", "sourceDisplayName",
             "sourceDisplayVersion", "sourcePublisherDisplayName", "supersededAppCount",
             "supersedingAppCount", "dependentAppCount", "dependsOnAppCount"}


@dataclass(frozen=True)
class Row:
    """One own relationship of an app: it supersedes or depends on ``target``."""

    kind: str  # supersedence | dependency
    target: str
    detail: str


class RelationshipsApi:
    def __init__(self, config: EmulatorConfig, state: State) -> None:
        self.config = config
        self.state = state

    # --- routes ---------------------------------------------------------------------------

    def relationships(self, ctx: Ctx, app: App, rest: list[str]) -> Response:
        if ctx.version != "beta":
            raise segment_error("relationships")
        if rest or ctx.request.method != "GET":
            raise method_not_allowed(ctx.request.method) if not rest else segment_error(rest[0])
        context = ctx.context(f"deviceAppManagement/mobileApps('{app.id}')/relationships")
        return ctx.json(200, {"@odata.context": context, "value": self.rows_of(app)})

    def update(self, ctx: Ctx, app: App) -> Response:
        if ctx.version != "beta":
            raise segment_error("updateRelationships")
        items = ctx.body().get("relationships")
        if not isinstance(items, list):
            raise bad_request("The property 'relationships' must be an array.")
        if app.type_name != "win32LobApp":
            raise bad_request("Relationships can only be set on a win32LobApp.")
        rows = [self._row(app, item) for item in items]
        targets = [r.target for r in rows]
        if len(set(targets)) != len(targets):
            raise bad_request("An app can have one relationship with each target app.")
        self._check_graph(app, rows)
        app.relationships = [{"kind": r.kind, "target": r.target, "detail": r.detail}
                             for r in rows]
        return ctx.empty(204)

    def refuse_delete(self, app: App) -> None:
        """An app others depend on stays; supersedence rows pointing at it go with it."""
        dependents = [other.id for other in self.state.apps.values()
                      if any(r["kind"] == "dependency" and r["target"] == app.id
                             for r in other.relationships)]
        if dependents:
            raise bad_request(f"The app '{app.id}' cannot be deleted: apps "
                              f"{', '.join(dependents)} depend on it.")
        for other in self.state.apps.values():
            other.relationships = [r for r in other.relationships if r["target"] != app.id]

    # --- reading ---------------------------------------------------------------------------

    def rows_of(self, app: App) -> list[dict[str, Any]]:
        rows = [self._render(app, self.state.apps[r["target"]], r, "child")
                for r in app.relationships if r["target"] in self.state.apps]
        for other in self.state.apps.values():
            for r in other.relationships:
                if r["target"] == app.id:
                    rows.append(self._render(app, other, r, "parent"))
        return rows

    def counts(self, app: App) -> dict[str, int]:
        """The read-only counts on the app (direct relationships)."""
        own = app.relationships
        parents = [r for o in self.state.apps.values() for r in o.relationships
                   if r["target"] == app.id]
        return {
            "dependentAppCount": sum(r["kind"] == "dependency" for r in parents),
            "supersedingAppCount": sum(r["kind"] == "supersedence" for r in own),
            "supersededAppCount": sum(r["kind"] == "supersedence" for r in parents),
        }

    def _render(self, app: App, other: App, row: dict[str, Any], target_type: str
                ) -> dict[str, Any]:
        source, target = (app, other) if target_type == "child" else (other, app)
        name, _ = DETAIL[row["kind"]]
        return {
            "@odata.type": f"#microsoft.graph.mobileApp{row['kind'].capitalize()}",
            "id": f"{source.id}_{target.id}",
            "targetId": other.id,
            "targetDisplayName": other.props.get("displayName"),
            "targetDisplayVersion": other.props.get("displayVersion"),
            "targetPublisher": other.props.get("publisher"),
            "targetType": target_type,
            name: row["detail"],
        }

    # --- checking a write -------------------------------------------------------------------

    def _row(self, app: App, item: Any) -> Row:
        if not isinstance(item, dict):
            raise bad_request("Each relationship must be an object.")
        raw_type = str(item.get("@odata.type", ""))
        if not raw_type.startswith("#" + apptypes.PREFIX):
            raise bad_request(f"The relationship type '{raw_type}' is not valid: use "
                              "#microsoft.graph.mobileAppSupersedence or "
                              "#microsoft.graph.mobileAppDependency.")
        kind = KINDS.get(raw_type[1 + len(apptypes.PREFIX):].lower())
        if kind is None:
            raise bad_request(f"The relationship type '{raw_type}' is not valid: use "
                              "#microsoft.graph.mobileAppSupersedence or "
                              "#microsoft.graph.mobileAppDependency.")
        if str(item.get("targetType", "child")).lower() == "parent":
            raise bad_request("A parent relationship cannot be set from the child app: it "
                              "would create a circular dependency.")
        detail_name, allowed = DETAIL[kind]
        unknown = set(item) - READ_ONLY - {"@odata.type", "targetId", "targetType", detail_name}
        if unknown:
            raise bad_request(f"The property '{sorted(unknown)[0]}' does not exist on type "
                              f"'microsoft.graph.mobileApp{kind.capitalize()}'.")
        target = item.get("targetId")
        if not isinstance(target, str) or target not in self.state.apps:
            raise bad_request(f"The target app '{target}' was not found.")
        if target == app.id:
            raise bad_request("An app cannot have a relationship with itself.")
        if self.state.apps[target].type_name != "win32LobApp":
            raise bad_request(f"The target app '{target}' is not a win32LobApp: only Win32 apps "
                              "can be superseded or depended on.")
        detail = item.get(detail_name)
        if detail not in allowed:
            raise bad_request(f"The property '{detail_name}' must be one of "
                              f"{', '.join(allowed)}, not '{detail}'.")
        return Row(kind, target, str(detail))

    def _check_graph(self, app: App, rows: list[Row]) -> None:
        """The world with these rows: no cycle, and each graph within its limit."""
        edges: Edges = {a.id: [(r["kind"], r["target"]) for r in a.relationships]
                 for a in self.state.apps.values()}
        edges[app.id] = [(r.kind, r.target) for r in rows]
        for kind in ("supersedence", "dependency"):
            if _reaches(edges, kind, [t for k, t in edges[app.id] if k == kind], app.id):
                raise bad_request(f"The {kind} relationships would create a circular "
                                  "dependency.")
        component = _component(edges, "supersedence", app.id)
        if len(component) > self.config.supersedence_node_limit:
            raise bad_request(
                f"A supersedence graph can contain at most "
                f"{self.config.supersedence_node_limit} apps; this one would have "
                f"{len(component)}.")
        needed = _closure(edges, "dependency", app.id)
        if len(needed) > self.config.dependency_node_limit:
            raise bad_request(
                f"An app can have at most {self.config.dependency_node_limit} dependencies, "
                f"including the dependencies of its dependencies and itself; this one would "
                f"have {len(needed)}.")


Edges = dict[str, list[tuple[str, str]]]


def _reaches(edges: Edges, kind: str, start: list[str], goal: str) -> bool:
    return goal in _walk(start, lambda node: [t for k, t in edges.get(node, []) if k == kind])


def _closure(edges: Edges, kind: str, start: str) -> set[str]:
    return _walk([start], lambda node: [t for k, t in edges.get(node, []) if k == kind])


def _component(edges: Edges, kind: str, start: str) -> set[str]:
    """Every app joined to ``start`` by ``kind`` edges, in either direction."""
    undirected: dict[str, set[str]] = {}
    for source, out in edges.items():
        for k, target in out:
            if k == kind:
                undirected.setdefault(source, set()).add(target)
                undirected.setdefault(target, set()).add(source)
    return _walk([start], lambda node: list(undirected.get(node, ())))


def _walk(start: list[str], neighbours: Callable[[str], list[str]]) -> set[str]:
    seen: set[str] = set()
    queue = list(start)
    while queue:
        node = queue.pop()
        if node not in seen:
            seen.add(node)
            queue += neighbours(node)
    return seen
