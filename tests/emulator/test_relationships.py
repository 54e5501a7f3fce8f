"""Win32 relationships: updateRelationships replaces, relationships lists both directions.

Each refusal is one the service documents or implies:
- updateRelationships replaces the app's relationships and answers 204
  (learn.microsoft.com/graph/api/intune-apps-mobileapp-updaterelationships?view=graph-rest-beta);
- mobileAppRelationship.targetType says whether the target is the app's parent or child, and
  is read-only (…/resources/intune-apps-mobileapprelationship?view=graph-rest-beta): a parent
  row sent back from the child is a circular relationship;
- supersedence and dependencies apply to Win32 apps only, a dependency graph holds at most 100
  apps with the app itself, a supersedence graph at most 10
  (learn.microsoft.com/mem/intune/apps/apps-win32-add, …/apps-win32-supersedence).
"""

from __future__ import annotations

from typing import Any

import pytest

from intune_step.emulator import Emulator

from .helpers import Api, ios_body, win32_body

APPS = "deviceAppManagement/mobileApps"
SUPERSEDE = "#microsoft.graph.mobileAppSupersedence"
DEPEND = "#microsoft.graph.mobileAppDependency"


def win32(api: Api, name: str, version: str = "1.0") -> str:
    return str(api.create_app(win32_body(displayName=name, displayVersion=version))["id"])


def supersede(target: str, kind: str = "update") -> dict[str, Any]:
    return {"@odata.type": SUPERSEDE, "targetId": target, "supersedenceType": kind}


def depend(target: str, kind: str = "autoInstall") -> dict[str, Any]:
    return {"@odata.type": DEPEND, "targetId": target, "dependencyType": kind}


def update(api: Api, app: str, *rows: dict[str, Any]) -> Any:
    return api.call("POST", f"{APPS}/{app}/updateRelationships",
                    {"relationships": list(rows)})


def refused(api: Api, app: str, *rows: dict[str, Any]) -> str:
    response = update(api, app, *rows)
    assert response.status_code == 400, response.text
    return str(response.json()["error"]["message"])


def listed(api: Api, app: str) -> list[tuple[str, str, str]]:
    rows = api.ok("GET", f"{APPS}/{app}/relationships")["value"]
    return sorted((r["@odata.type"], r["targetId"], r["targetType"]) for r in rows)


def test_update_replaces_the_set_and_both_directions_are_listed(api: Api) -> None:
    old, runtime, new = win32(api, "Tool", "1.0"), win32(api, "Runtime"), win32(api, "Tool", "2.0")
    assert update(api, new, supersede(old), depend(runtime)).status_code == 204
    assert listed(api, new) == sorted([(SUPERSEDE, old, "child"), (DEPEND, runtime, "child")])
    assert listed(api, old) == [(SUPERSEDE, new, "parent")]
    assert listed(api, runtime) == [(DEPEND, new, "parent")]
    app = api.ok("GET", f"{APPS}/{old}")
    assert app["supersededAppCount"] == 1 and api.ok("GET", f"{APPS}/{runtime}")[
        "dependentAppCount"] == 1
    # The set is replaced, not added to.
    assert update(api, new, depend(runtime, "detect")).status_code == 204
    rows = api.ok("GET", f"{APPS}/{new}/relationships")["value"]
    assert [(r["targetId"], r["dependencyType"]) for r in rows] == [(runtime, "detect")]
    assert listed(api, old) == []


def test_a_parent_row_sent_back_is_refused_as_circular(api: Api) -> None:
    old, new = win32(api, "Tool", "1.0"), win32(api, "Tool", "2.0")
    assert update(api, new, supersede(old)).status_code == 204
    [parent_row] = api.ok("GET", f"{APPS}/{old}/relationships")["value"]
    assert parent_row["targetType"] == "parent"
    assert "circular" in refused(api, old, parent_row)


def test_cycles_and_self_relationships_are_refused(api: Api) -> None:
    a, b, c = win32(api, "A"), win32(api, "B"), win32(api, "C")
    assert "itself" in refused(api, a, depend(a))
    assert update(api, a, depend(b)).status_code == 204
    assert update(api, b, depend(c)).status_code == 204
    assert "circular" in refused(api, c, depend(a))
    assert update(api, a, supersede(c)).status_code == 204
    assert "circular" in refused(api, c, supersede(a))


def test_only_win32_apps_relate_and_targets_must_exist(api: Api) -> None:
    tool = win32(api, "Tool")
    ios = str(api.create_app(ios_body())["id"])
    assert "not a win32LobApp" in refused(api, tool, depend(ios))
    assert "only be set on a win32LobApp" in refused(api, ios, depend(tool))
    assert "was not found" in refused(api, tool, depend("00000000-0000-0000-0000-000000000000"))


def test_types_values_and_properties_are_checked(api: Api) -> None:
    a, b = win32(api, "A"), win32(api, "B")
    assert "not valid" in refused(api, a, {**depend(b), "@odata.type": "mobileAppDependency"})
    assert "not valid" in refused(api, a, {**depend(b),
                                           "@odata.type": "#microsoft.graph.mobileAppRelationship"})
    assert "must be one of" in refused(api, a, depend(b, "install"))
    assert "must be one of" in refused(api, a, supersede(b, "upgrade"))
    assert "does not exist" in refused(api, a, {**depend(b), "autoUpdate": True})
    assert "one relationship with each target" in refused(api, a, depend(b), supersede(b))


@pytest.mark.emu(supersedence_node_limit=3)
def test_the_supersedence_graph_limit(api: Api) -> None:
    v1, v2, v3, v4 = (win32(api, "Tool", f"{n}.0") for n in (1, 2, 3, 4))
    assert update(api, v2, supersede(v1)).status_code == 204
    assert update(api, v3, supersede(v2)).status_code == 204
    assert "at most 3 apps" in refused(api, v4, supersede(v3))


@pytest.mark.emu(dependency_node_limit=3)
def test_the_dependency_graph_limit_counts_the_app_itself(api: Api) -> None:
    a, b, c, d = win32(api, "A"), win32(api, "B"), win32(api, "C"), win32(api, "D")
    assert update(api, b, depend(c)).status_code == 204
    assert update(api, a, depend(b)).status_code == 204  # a, b, c: three with a itself
    assert "at most 3 dependencies" in refused(api, a, depend(b), depend(d))


def test_an_app_others_depend_on_cannot_be_deleted(emu: Emulator, api: Api) -> None:
    runtime, tool, old = win32(api, "Runtime"), win32(api, "Tool", "2.0"), win32(api, "Tool")
    assert update(api, tool, depend(runtime), supersede(old)).status_code == 204
    response = api.call("DELETE", f"{APPS}/{runtime}")
    assert response.status_code == 400 and "depend on it" in response.json()["error"]["message"]
    # A superseded app may go; the row pointing at it goes with it.
    assert api.call("DELETE", f"{APPS}/{old}").status_code == 204
    assert listed(api, tool) == [(DEPEND, runtime, "child")]


def test_relationships_are_beta_only(emu: Emulator, http: Any) -> None:
    api = Api(emu, http, version="v1.0")
    tool = win32(Api(emu, http), "Tool")
    assert api.call("GET", f"{APPS}/{tool}/relationships").status_code == 400
    assert api.call("POST", f"{APPS}/{tool}/updateRelationships",
                    {"relationships": []}).status_code == 400
