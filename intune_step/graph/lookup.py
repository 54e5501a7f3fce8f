"""Find the app a file belongs to: by app-id, else by Graph type and identity.

Graph filters only base properties and refuses ``$select`` of subtype properties on the
collection (docs/protocol.md, "Finding an existing app"), so the search lists the type with
``isof(...)``, matches the identity property (bundleId, packageId, productCode...) or our notes
tag client-side, and reads every candidate again by id, where the subtype properties are
authoritative.
"""

from __future__ import annotations

from typing import Any

from intune_step.artifacts.base import AppMetadata
from intune_step.errors import BadInputError, GraphError
from intune_step.graph.client import GraphClient
from intune_step.graph.tags import content_tag, same_identity

APPS = "deviceAppManagement/mobileApps"
# Where each type keeps the identity that stays the same across versions. androidLobApp's
# identityName is the 2018 beta schema some older tools still write.
IDENTITY_FIELDS: dict[str, tuple[str, ...]] = {
    "iosLobApp": ("bundleId",),
    "androidLobApp": ("packageId", "identityName"),
    "windowsMobileMSI": ("productCode",),
    "windowsUniversalAppX": ("identityName",),
    "macOSPkgApp": ("primaryBundleId",),
    "macOSDmgApp": ("primaryBundleId",),
    "macOSLobApp": ("bundleId",),
    "win32LobApp": ("msiInformation.productCode",),
}


def graph_type(app: dict[str, Any]) -> str:
    return str(app.get("@odata.type", "")).lstrip("#").removeprefix("microsoft.graph.")


def _field(app: dict[str, Any], path: str) -> Any:
    value: Any = app
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def identity_fields(meta: AppMetadata) -> tuple[str, ...]:
    fields = IDENTITY_FIELDS.get(meta.app_type, ())
    if meta.app_type == "win32LobApp" and not _field(dict(meta.properties),
                                                     "msiInformation.productCode"):
        return ()  # a Win32 app built from an EXE has no product code: only our tag tells
    return fields


def identity_of(app: dict[str, Any], meta: AppMetadata) -> str | None:
    """The app's identity as Graph shows it, in the fields this file's type uses."""
    for path in identity_fields(meta):
        value = _field(app, path)
        if isinstance(value, str) and value.strip():
            return value
    return None


def matches(app: dict[str, Any], meta: AppMetadata) -> bool:
    """Same Graph type, and the same identity by property or by our tag."""
    if graph_type(app).lower() != meta.app_type.lower():
        return False
    shown = identity_of(app, meta)
    if shown is not None:
        return same_identity(shown, meta.identity)
    tag = content_tag(app.get("notes"))
    return tag is not None and tag.matches(meta.app_type, meta.identity)


def describe(app: dict[str, Any]) -> str:
    return (f"{app.get('id')} '{app.get('displayName') or ''}' (created "
            f"{str(app.get('createdDateTime') or '?')[:19]}, "
            f"{app.get('publishingState') or 'unknown state'})")


class AppFinder:
    """Finds and reads apps, and remembers each app's icon once known: Graph may leave
    ``largeIcon`` out of a read (docs/protocol.md, "PATCH drops largeIcon"), so it is asked for
    on its own, only when an answer depends on it, and once per run."""

    def __init__(self, graph: GraphClient) -> None:
        self.graph = graph
        self._icons: dict[str, Any] = {}  # app id -> largeIcon as last read or written

    def read(self, app_id: str) -> dict[str, Any]:
        """The app by id; ``largeIcon`` is filled in when this run already knows it."""
        app = self.graph.get(f"{APPS}/{app_id}", what=f"read app {app_id}")
        if app.get("largeIcon"):
            self._icons[app_id] = app["largeIcon"]
        elif app_id in self._icons:
            app["largeIcon"] = self._icons[app_id]
        return app

    def with_icon(self, app: dict[str, Any]) -> dict[str, Any]:
        """``app`` with its ``largeIcon`` known: as read, as this run knows it, or asked for
        with ``$select=largeIcon``, which keeps an admin's icon from looking absent."""
        app_id = str(app["id"])
        if app.get("largeIcon"):
            self._icons[app_id] = app["largeIcon"]
        elif app_id in self._icons:
            app["largeIcon"] = self._icons[app_id]
        else:
            icon = self.graph.get(f"{APPS}/{app_id}", params={"$select": "largeIcon"},
                                  what=f"read the icon of app {app_id}")
            app["largeIcon"] = self._icons[app_id] = icon.get("largeIcon")
        return app

    def remember_icon(self, app_id: str, icon: Any) -> None:
        """What this run just wrote (or created the app with)."""
        self._icons[app_id] = icon

    def by_id(self, app_id: str, meta: AppMetadata) -> dict[str, Any]:
        """The app-id the user gave, refused unless its type and identity fit the file."""
        try:
            app = self.read(app_id)
        except GraphError as exc:
            if exc.status == 404:
                raise BadInputError(f"app-id {app_id} does not exist in this tenant",
                                    fix="check app-id, or leave it empty to find or create the "
                                    "app by its identity", request_id=exc.request_id) from exc
            raise
        actual = graph_type(app)
        if actual.lower() != meta.app_type.lower():
            raise BadInputError(
                f"app-id {app_id} is a {actual or 'different app'}, but {meta.file_name} is a "
                f"{meta.app_type}",
                fix="give the app-id of the matching app, or leave it empty to create one",
            )
        shown = identity_of(app, meta)
        tag = content_tag(app.get("notes"))
        if shown is None and tag is not None:
            shown = tag.identity
        if shown is not None and not same_identity(shown, meta.identity):
            raise BadInputError(
                f"app-id {app_id} is {shown}, but {meta.file_name} is {meta.identity}",
                fix="give the app-id of the app with the same identity, or leave app-id empty",
            )
        return app

    def candidates(self, meta: AppMetadata,
                   known: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every app of the file's type and identity, each read again by id, except ``known``
        (an app this run created: its entity as created)."""
        listed = self.graph.get_all(
            APPS, params={"$filter": f"isof('microsoft.graph.{meta.app_type}')"},
            what=f"list the {meta.app_type} apps",
        )
        found = []
        for item in listed:
            if known is not None and str(item.get("id")) == str(known.get("id")):
                found.append({**known, **item})  # the listing's createdDateTime wins
                continue
            if not _may_match(item, meta):
                continue
            app = self._reread(str(item["id"]))
            if app is not None and matches(app, meta):
                found.append(app)
        return sorted(found, key=creation_order)

    def find(self, meta: AppMetadata) -> dict[str, Any] | None:
        """The one existing app for this file, None when there is none; two is an error."""
        found = self.candidates(meta)
        if len(found) > 1:
            raise BadInputError(
                f"{len(found)} {meta.app_type} apps have the identity {meta.identity}: "
                + "; ".join(describe(a) for a in found),
                fix="set app-id to the one to update (or delete the extra apps in Intune)",
            )
        return found[0] if found else None

    def _reread(self, app_id: str) -> dict[str, Any] | None:
        try:
            return self.read(app_id)
        except GraphError as exc:
            if exc.status == 404:  # deleted since the listing
                return None
            raise


def _may_match(item: dict[str, Any], meta: AppMetadata) -> bool:
    """Cheap pre-check on the listing; the listing may omit subtype properties, so an
    item without them stays a candidate only when our tag or nothing contradicts it."""
    if graph_type(item).lower() != meta.app_type.lower():
        return False
    shown = identity_of(item, meta)
    if shown is not None:
        return same_identity(shown, meta.identity)
    tag = content_tag(item.get("notes"))
    if tag is not None:
        return tag.matches(meta.app_type, meta.identity)
    return bool(identity_fields(meta)) and not any(
        _field(item, f.split(".")[0]) is not None for f in identity_fields(meta))


def creation_order(app: dict[str, Any]) -> tuple[str, str]:
    """Oldest first; the id breaks ties so every run orders the same apps the same way."""
    return (str(app.get("createdDateTime") or ""), str(app.get("id") or ""))

