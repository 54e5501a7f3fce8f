"""Relationships: only the app's own rows are kept and written back, never parent rows."""

from __future__ import annotations

from pytest_httpx import HTTPXMock

from intune_step.graph import relationships as rel
from intune_step.graph.client import GraphClient

from ..conftest import GRAPH

URL = f"{GRAPH}/deviceAppManagement/mobileApps/app-2/relationships"


def row(kind: str, target: str, target_type: str, detail: str) -> dict[str, str]:
    name = "supersedenceType" if kind == "Supersedence" else "dependencyType"
    return {"@odata.type": f"#microsoft.graph.mobileApp{kind}", "targetId": target,
            "targetType": target_type, name: detail, "targetDisplayName": target.upper()}


def test_read_splits_own_rows_from_parent_rows(httpx_mock: HTTPXMock, graph: GraphClient) -> None:
    httpx_mock.add_response(url=URL, json={"value": [
        row("Supersedence", "app-1", "child", "update"),
        row("Dependency", "runtime", "child", "detect"),
        row("Supersedence", "app-3", "parent", "replace"),
        {"@odata.type": "#microsoft.graph.mobileAppSomethingNew", "targetId": "x"},
    ]})
    found = rel.read(graph, "app-2")
    assert found.superseded() == ["app-1"] and found.dependencies() == ["runtime"]
    assert found.superseded_by() == ["app-3"] and found.dependents() == []


def test_merge_keeps_others_and_lets_ours_win() -> None:
    admin = rel.Relation(rel.DEPENDENCY, "vcredist", "autoInstall")
    old = rel.Relation(rel.SUPERSEDENCE, "app-1", "replace")
    ours = rel.Relation(rel.SUPERSEDENCE, "app-1", "update")
    merged = rel.merge([admin, old], [ours])
    assert merged == (admin, ours)
    assert rel.merge(merged, [], drop=["app-1"]) == (admin,)
    assert rel.same(merged, [ours, admin]) and not rel.same(merged, [admin, old])
    assert ours.body() == {"@odata.type": rel.SUPERSEDENCE, "targetId": "app-1",
                           "supersedenceType": "update"}
