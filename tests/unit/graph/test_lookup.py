"""Finding the app: by app-id with type and identity checks, else by type with the identity
matched client-side (the collection cannot filter or $select subtype properties)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from intune_step.artifacts.base import AppMetadata, PlainContent
from intune_step.errors import BadInputError, GraphError
from intune_step.graph.lookup import AppFinder

ICON = {"@odata.type": "#microsoft.graph.mimeContent", "type": "image/png", "value": "AA=="}


class FakeGraph:
    """mobileApps in memory. ``thin_listing`` mimics a service whose collection leaves the
    subtype properties (and largeIcon) out, so only a GET by id shows them."""

    def __init__(self, apps: list[dict[str, Any]], thin_listing: bool | str = False) -> None:
        self.apps = {a["id"]: a for a in apps}
        self.thin = thin_listing
        self.calls: list[tuple[str, dict[str, str] | None]] = []

    def get(self, path: str, params: dict[str, str] | None = None,
            what: str | None = None) -> dict[str, Any]:
        self.calls.append((path, params))
        app_id = path.rsplit("/", 1)[-1]
        if app_id not in self.apps:
            raise GraphError("not found", status=404)
        app = dict(self.apps[app_id])
        if params and params.get("$select") == "largeIcon":
            return {"id": app_id, "largeIcon": app.get("largeIcon")}
        if self.thin == "null-icon":
            app["largeIcon"] = None
        elif self.thin:
            app.pop("largeIcon", None)
        return app

    def get_all(self, path: str, params: dict[str, str] | None = None,
                what: str | None = None):
        self.calls.append((path, params))
        wanted = params["$filter"].split("'")[1].removeprefix("microsoft.graph.")
        for app in self.apps.values():
            if app["@odata.type"].lower() == f"#microsoft.graph.{wanted}".lower():
                base = {k: v for k, v in app.items()
                        if k in ("id", "@odata.type", "displayName", "notes",
                                 "createdDateTime")} if self.thin else app
                yield dict(base)


def ios(app_id: str, bundle: str, created: str = "2026-01-01T00:00:00Z", **kw: Any) -> dict:
    return {"id": app_id, "@odata.type": "#microsoft.graph.iosLobApp", "bundleId": bundle,
            "displayName": app_id, "createdDateTime": created, "notes": "", "largeIcon": None,
            **kw}


def meta(app_type: str = "iosLobApp", identity: str = "com.contoso.a",
         **properties: Any) -> AppMetadata:
    props = {"bundleId": identity} if app_type == "iosLobApp" else properties
    return AppMetadata(app_type=app_type, file_name="f", identity=identity, version="1",
                       content=PlainContent(Path("/x"), 1), properties=props)


@pytest.mark.parametrize("thin", [False, True])
def test_finds_the_one_app_of_the_type_and_identity(thin: bool) -> None:
    graph = FakeGraph([ios("1", "com.contoso.other"), ios("2", "COM.Contoso.A"),
                       {"id": "3", "@odata.type": "#microsoft.graph.macOSLobApp",
                        "bundleId": "com.contoso.a", "notes": ""}], thin_listing=thin)
    found = AppFinder(graph).find(meta())  # type: ignore[arg-type]
    assert found is not None and found["id"] == "2" and found["bundleId"] == "COM.Contoso.A"
    filters = [p["$filter"] for _, p in graph.calls if p and "$filter" in p]
    assert filters == ["isof('microsoft.graph.iosLobApp')"]
    assert all("$select" not in (p or {}) or p["$select"] == "largeIcon" for _, p in graph.calls)


def test_none_when_nothing_matches() -> None:
    assert AppFinder(FakeGraph([ios("1", "com.x")])).find(meta()) is None  # type: ignore[arg-type]


def test_two_matches_are_an_error_listing_both_oldest_first() -> None:
    graph = FakeGraph([ios("new", "com.contoso.a", "2026-02-01T00:00:00Z"),
                       ios("old", "com.contoso.a", "2026-01-01T00:00:00Z")])
    with pytest.raises(BadInputError) as caught:
        AppFinder(graph).find(meta())  # type: ignore[arg-type]
    text = caught.value.one_line()
    assert text.index("old 'old'") < text.index("new 'new'") and "set app-id" in text


def test_win32_without_a_product_code_is_found_only_by_our_tag() -> None:
    tagged = {"id": "t", "@odata.type": "#microsoft.graph.win32LobApp",
              "notes": "ops\n[intune-step:win32LobApp:Contoso%20Tool]", "displayName": "x"}
    untagged = {"id": "u", "@odata.type": "#microsoft.graph.win32LobApp", "notes": "",
                "displayName": "Contoso Tool"}
    graph = FakeGraph([tagged, untagged])
    exe = meta("win32LobApp", "Contoso Tool", fileName="x.intunewin")
    assert AppFinder(graph).find(exe)["id"] == "t"  # type: ignore[arg-type,index]


def test_win32_from_an_msi_matches_the_product_code() -> None:
    app = {"id": "m", "@odata.type": "#microsoft.graph.win32LobApp", "notes": "",
           "msiInformation": {"productCode": "{AAAAAAAA-0000-0000-0000-000000000000}"}}
    msi = meta("win32LobApp", "{aaaaaaaa-0000-0000-0000-000000000000}",
               msiInformation={"productCode": "{aaaaaaaa-0000-0000-0000-000000000000}"})
    assert AppFinder(FakeGraph([app])).find(msi)["id"] == "m"  # type: ignore[arg-type,index]


def test_android_apps_from_the_old_beta_schema_match_by_identity_name() -> None:
    old = {"id": "o", "@odata.type": "#microsoft.graph.androidLobApp", "notes": "",
           "identityName": "com.contoso.a", "packageId": None}
    apk = meta("androidLobApp", "com.contoso.a", packageId="com.contoso.a")
    assert AppFinder(FakeGraph([old])).find(apk)["id"] == "o"  # type: ignore[arg-type,index]


def test_app_id_is_checked_for_type_and_identity() -> None:
    graph = FakeGraph([ios("i", "com.contoso.b"),
                       {"id": "a", "@odata.type": "#microsoft.graph.androidLobApp",
                        "packageId": "com.contoso.a", "notes": ""}])
    finder = AppFinder(graph)  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="is a androidLobApp, but f is a iosLobApp"):
        finder.by_id("a", meta())
    with pytest.raises(BadInputError, match=r"is com\.contoso\.b, but f is com\.contoso\.a"):
        finder.by_id("i", meta())
    with pytest.raises(BadInputError, match="does not exist"):
        finder.by_id("missing", meta())


@pytest.mark.parametrize("shape", [True, "null-icon"])
def test_the_icon_is_fetched_when_the_entity_leaves_it_out(shape: bool | str) -> None:
    graph = FakeGraph([ios("1", "com.contoso.a", largeIcon=ICON)], thin_listing=shape)
    finder = AppFinder(graph)  # type: ignore[arg-type]
    app = finder.read("1")
    assert not app.get("largeIcon") and len(graph.calls) == 1  # asked for only when needed
    assert finder.with_icon(app)["largeIcon"] == ICON
    assert ("deviceAppManagement/mobileApps/1", {"$select": "largeIcon"}) in graph.calls
    calls = len(graph.calls)
    assert finder.read("1")["largeIcon"] == ICON  # known from now on: no second $select
    assert finder.with_icon(finder.read("1"))["largeIcon"] == ICON
    assert len(graph.calls) == calls + 2


def test_an_icon_this_run_wrote_is_not_asked_for_again() -> None:
    graph = FakeGraph([ios("1", "com.contoso.a")], thin_listing=True)
    finder = AppFinder(graph)  # type: ignore[arg-type]
    finder.remember_icon("1", ICON)
    assert finder.with_icon(finder.read("1"))["largeIcon"] == ICON
    assert graph.calls == [("deviceAppManagement/mobileApps/1", None)]
    finder.remember_icon("1", None)  # created without one: known to have none
    assert finder.with_icon(finder.read("1"))["largeIcon"] is None
    assert len(graph.calls) == 2


def test_an_app_this_run_created_is_not_read_again_when_listing_candidates() -> None:
    mine = ios("2", "com.contoso.a", created="2026-01-02T00:00:00Z")
    graph = FakeGraph([ios("1", "com.contoso.a"), mine])
    found = AppFinder(graph).candidates(meta(), known=mine)  # type: ignore[arg-type]
    assert [a["id"] for a in found] == ["1", "2"]
    assert ("deviceAppManagement/mobileApps/2", None) not in graph.calls
    assert ("deviceAppManagement/mobileApps/1", None) in graph.calls
