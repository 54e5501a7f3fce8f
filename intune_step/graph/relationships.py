"""An app's supersedence and dependency relationships, read and written the safe way.

``POST mobileApps/{id}/updateRelationships`` replaces *all* of the app's own relationships at
once, and ``GET mobileApps/{id}/relationships`` lists rows in both directions: the app's own
(``targetType: child``, "this app supersedes or depends on the target") and the rows of other
apps that point at it (``targetType: parent``). Sending a parent row back is refused as a
circular relationship, so a write is always: read, keep the child rows, merge ours in, write
the whole set (docs/protocol.md, "Relationships").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from intune_step.graph.client import GraphClient
from intune_step.graph.lookup import APPS

SUPERSEDENCE = "#microsoft.graph.mobileAppSupersedence"
DEPENDENCY = "#microsoft.graph.mobileAppDependency"
_DETAIL = {SUPERSEDENCE: "supersedenceType", DEPENDENCY: "dependencyType"}


@dataclass(frozen=True)
class Relation:
    """One of the app's own relationships: it supersedes or depends on ``target_id``."""

    kind: str  # SUPERSEDENCE | DEPENDENCY
    target_id: str
    detail: str  # supersedenceType (update | replace) or dependencyType (autoInstall | detect)
    target_name: str = ""

    @property
    def supersedes(self) -> bool:
        return self.kind == SUPERSEDENCE

    def body(self) -> dict[str, Any]:
        """What updateRelationships takes: the type, the target and its one setting."""
        return {"@odata.type": self.kind, "targetId": self.target_id,
                _DETAIL[self.kind]: self.detail}

    def describe(self) -> str:
        name = f" '{self.target_name}'" if self.target_name else ""
        verb = f"supersedes ({self.detail})" if self.supersedes else f"depends on ({self.detail})"
        return f"{verb} {self.target_id}{name}"


@dataclass(frozen=True)
class Relationships:
    """What ``GET …/relationships`` says: the app's own rows, and who points at the app."""

    own: tuple[Relation, ...]
    parents: tuple[Relation, ...]  # other apps' rows: target_id is the *other* app

    def superseded(self) -> list[str]:
        return [r.target_id for r in self.own if r.supersedes]

    def superseded_by(self) -> list[str]:
        return [r.target_id for r in self.parents if r.supersedes]

    def dependents(self) -> list[str]:
        return [r.target_id for r in self.parents if not r.supersedes]

    def dependencies(self) -> list[str]:
        return [r.target_id for r in self.own if not r.supersedes]


def read(graph: GraphClient, app_id: str) -> Relationships:
    own: list[Relation] = []
    parents: list[Relation] = []
    for row in graph.get_all(f"{APPS}/{app_id}/relationships",
                             what=f"read the relationships of app {app_id}"):
        relation = _relation(row)
        if relation is None:
            continue
        (parents if str(row.get("targetType", "")).lower() == "parent" else own).append(relation)
    return Relationships(tuple(own), tuple(parents))


def _relation(row: dict[str, Any]) -> Relation | None:
    kind = str(row.get("@odata.type", ""))
    if not kind.startswith("#"):
        kind = "#" + kind
    if kind not in _DETAIL or not row.get("targetId"):
        return None  # a kind this tool does not manage: never rewritten (it is not ours)
    return Relation(kind, str(row["targetId"]), str(row.get(_DETAIL[kind]) or ""),
                    str(row.get("targetDisplayName") or ""))


def merge(own: Iterable[Relation], wanted: Iterable[Relation],
          drop: Iterable[str] = ()) -> tuple[Relation, ...]:
    """The app's own rows with ``wanted`` put in (one row per target: ours win) and the
    targets in ``drop`` taken out; the order of the existing rows is kept."""
    wanted = list(wanted)
    dropped = set(drop) | {r.target_id for r in wanted}
    kept = [r for r in own if r.target_id not in dropped]
    return tuple(kept + wanted)


def same(a: Iterable[Relation], b: Iterable[Relation]) -> bool:
    """The same set (names aside): a write would change nothing."""
    def key(r: Relation) -> tuple[str, str, str]:
        return (r.kind, r.target_id, r.detail.lower())

    return sorted(map(key, a)) == sorted(map(key, b))


def write(graph: GraphClient, app_id: str, relations: Iterable[Relation]) -> None:
    """Replace the app's own relationships with ``relations`` (never parent rows)."""
    graph.post(f"{APPS}/{app_id}/updateRelationships",
               {"relationships": [r.body() for r in relations]},
               what=f"write the relationships of app {app_id}")


def graph_of(graph: GraphClient, start: Iterable[str], supersedence: bool,
             limit: int) -> set[str]:
    """The apps connected to ``start`` through one kind of relationship, both directions;
    reading stops once more than ``limit`` apps are found (the caller refuses then)."""

    def neighbours(app_id: str) -> list[str]:
        found = read(graph, app_id)
        return [r.target_id for r in found.own + found.parents if r.supersedes == supersedence]

    return _walk(start, neighbours, limit)


def depends_on(graph: GraphClient, start: Iterable[str], limit: int) -> set[str]:
    """Every app ``start`` needs, directly or through others (dependency rows, downwards)."""
    return _walk(start, lambda app_id: read(graph, app_id).dependencies(), limit)


def _walk(start: Iterable[str], neighbours: Callable[[str], list[str]], limit: int) -> set[str]:
    """Every app reachable from ``start``, each read once, until more than ``limit``."""
    seen: set[str] = set()
    queue = list(start)
    while queue and len(seen) <= limit:
        app_id = queue.pop()
        if app_id not in seen:
            seen.add(app_id)
            queue += neighbours(app_id)
    return seen
