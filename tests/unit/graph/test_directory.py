"""Names to IDs: one directory query per group name (quotes doubled), filters listed once,
and each refusal naming what it found."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

import pytest

from intune_step.config.assignments import parse_assignments
from intune_step.errors import BadInputError, PermissionDeniedError
from intune_step.graph.client import GraphClient
from intune_step.graph.directory import Directory

G1, G2 = "11111111-2222-3333-4444-555555555555", "22222222-2222-3333-4444-555555555555"
F1 = "33333333-2222-3333-4444-555555555555"


class FakeGraph:
    def __init__(self, groups: dict[str, list[str]], filters: list[dict[str, Any]] | None,
                 ) -> None:
        self.groups, self.filters, self.calls = groups, filters, []

    def get_all(self, path: str, params: Mapping[str, str] | None = None,
                what: str | None = None) -> Iterator[dict[str, Any]]:
        self.calls.append((path, dict(params or {})))
        if path == "groups":
            wanted = (params or {})["$filter"].removeprefix("displayName eq ")
            name = wanted[1:-1].replace("''", "'")
            yield from ({"id": i, "displayName": name} for i in self.groups.get(name, []))
            return
        if self.filters is None:
            raise PermissionDeniedError("HTTP 403", status=403, code="Forbidden")
        yield from self.filters


def directory(graph: FakeGraph) -> Directory:
    return Directory(cast(GraphClient, graph))


def test_names_become_ids_with_one_query_each() -> None:
    graph = FakeGraph({"O'Brien team": [G1]},
                      [{"id": F1, "displayName": "Corporate iPhones", "platform": "iOS"}])
    entries = parse_assignments("- intent: required\n  group: O'Brien team\n"
                                "  filter: corporate iphones\n"
                                "- intent: available\n  group: " + G2) or ()
    found = directory(graph).resolve(entries)
    assert [(a.group_id, a.filter_id, a.resolved) for a in found] == [
        (G1, F1, True), (G2, None, True)]
    assert graph.calls[0] == ("groups", {"$filter": "displayName eq 'O''Brien team'",
                                         "$select": "id,displayName"})
    dirs = directory(graph)
    dirs.group_id("O'Brien team")
    dirs.group_id("o'brien TEAM")  # cached case-blind: no second query
    assert [c for c in graph.calls[2:] if c[0] == "groups"] == [graph.calls[0]]


def test_refusals_list_what_was_found() -> None:
    graph = FakeGraph({"Pilot": [G1, G2]}, [
        {"id": F1, "displayName": "Kiosks", "platform": "windows10AndLater"}])
    with pytest.raises(BadInputError, match=f"2 groups are named 'Pilot': {G1}, {G2}"):
        directory(graph).group_id("Pilot")
    with pytest.raises(BadInputError, match="no assignment filter is named 'Phones' "
                                            r"\(the tenant has: Kiosks\)"):
        directory(graph).resolve(parse_assignments(
            f"- intent: required\n  group: {G1}\n  filter: {{name: Phones}}") or ())
    entries = parse_assignments(f"- intent: required\n  group: {G1}\n  filter: {F1}") or ()
    with pytest.raises(BadInputError, match="platform windows10AndLater, not for a iosLobApp"):
        directory(graph).check_platforms(entries, "iosLobApp")
    directory(graph).check_platforms(entries, "win32LobApp")


def test_a_filter_given_by_id_is_not_checked_without_the_permission() -> None:
    entries = parse_assignments(f"- intent: required\n  group: {G1}\n  filter: {F1}") or ()
    directory(FakeGraph({}, None)).check_platforms(entries, "iosLobApp")  # left to Intune
    named = parse_assignments(f"- intent: required\n  group: {G1}\n  filter: Phones") or ()
    with pytest.raises(PermissionDeniedError,
                       match=r"needs the application permission "
                             r"DeviceManagementConfiguration\.Read\.All"):
        directory(FakeGraph({}, None)).resolve(named)
