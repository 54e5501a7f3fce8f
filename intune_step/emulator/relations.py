"""Assignments and categories of apps: assign (replace all), assignments, category links."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from . import apptypes, schema
from .config import EmulatorConfig
from .graph_common import Ctx, bad_request, method_not_allowed, not_found, segment_error
from .odata_filter import FilterError, Schema, compile_filter
from .server import Response
from .state import App, Category, State
from .wire import iso, utcnow

# Categories every tenant starts with.
DEFAULT_CATEGORIES = (
    "Other apps", "Books & Reference", "Data management", "Productivity", "Business",
    "Development & Design", "Photos & Media", "Collaboration & Social", "Computer management",
)  # fmt: skip


class RelationsApi:
    def __init__(self, config: EmulatorConfig, state: State) -> None:
        self.config = config
        self.state = state
        now = utcnow()
        for name in DEFAULT_CATEGORIES:
            category = Category(str(uuid.uuid4()), name, now)
            state.categories[category.id] = category

    # --- assignments ---------------------------------------------------------------------

    def _require_published(self, app: App) -> None:
        app.observe_publish(self.state.clock)
        if self.config.require_published_for_assign and app.publishing_state != "published":
            raise bad_request(
                f"The app cannot be assigned while its publishingState is '{app.publishing_state}'."
            )

    def assign(self, ctx: Ctx, app: App) -> Response:
        body = ctx.body()
        items = body.get("mobileAppAssignments")
        if not isinstance(items, list):
            raise bad_request("The property 'mobileAppAssignments' must be an array.")
        for item in items:
            check_assignment(ctx, app, item)
        assignments = [_assignment(item) for item in items]
        self._require_published(app)
        app.assignments = assignments
        if self.config.assign_status == 200:
            return Response(200, b"", ctx.headers())
        return ctx.empty(self.config.assign_status)

    def assignments(self, ctx: Ctx, app: App, rest: list[str]) -> Response:
        method = ctx.request.method
        context = ctx.context(f"deviceAppManagement/mobileApps('{app.id}')/assignments")
        if not rest:
            if method == "GET":
                return ctx.json(
                    200, {"@odata.context": context, "value": copy.deepcopy(app.assignments)}
                )
            if method == "POST":
                check_assignment(ctx, app, ctx.body())
                assignment = _assignment(ctx.body())
                self._require_published(app)
                app.assignments.append(assignment)
                return ctx.json(201, {"@odata.context": f"{context}/$entity", **assignment})
            raise method_not_allowed(method)
        found = next((a for a in app.assignments if a["id"] == rest[0]), None)
        if found is None or len(rest) > 1:
            raise not_found(f"The assignment '{rest[0]}'")
        if method == "GET":
            return ctx.json(200, {"@odata.context": f"{context}/$entity", **found})
        if method == "PATCH":
            merged = {**found, **ctx.body(), "id": found["id"]}
            found.clear()
            found.update(_assignment(merged, keep_id=True))
            return ctx.empty(204)
        if method == "DELETE":
            app.assignments.remove(found)
            return ctx.empty(204)
        raise method_not_allowed(method)

    # --- categories ----------------------------------------------------------------------

    def categories(self, ctx: Ctx, rest: list[str]) -> Response:
        method = ctx.request.method
        cats = self.state.categories
        if not rest:
            if method == "GET":
                items = [render_category(c) for c in cats.values()]
                raw_filter = ctx.query.get("$filter")
                if raw_filter:
                    try:
                        test = compile_filter(raw_filter, _CATEGORY_SCHEMA)
                    except FilterError as exc:
                        raise bad_request(str(exc), nested=False) from exc
                    items = [c for c in items if test(c)]
                return ctx.page(
                    items,
                    context=ctx.context("deviceAppManagement/mobileAppCategories"),
                    page_size=self.config.page_size,
                )
            if method == "POST":
                name = ctx.body().get("displayName")
                if not isinstance(name, str) or not name.strip():
                    raise bad_request("The property 'displayName' is required.")
                created = Category(str(uuid.uuid4()), name, utcnow())
                cats[created.id] = created
                context = ctx.context("deviceAppManagement/mobileAppCategories/$entity")
                return ctx.json(201, {"@odata.context": context, **render_category(created)})
            raise method_not_allowed(method)
        category = cats.get(rest[0])
        if category is None or len(rest) > 1:
            raise not_found(f"The category '{rest[0]}'")
        if method == "GET":
            return ctx.json(200, render_category(category))
        if method == "PATCH":
            name = ctx.body().get("displayName")
            if isinstance(name, str) and name.strip():
                category.display_name = name
                category.modified = utcnow()
            return ctx.empty(204)
        if method == "DELETE":
            del cats[category.id]
            for app in self.state.apps.values():
                if category.id in app.category_ids:
                    app.category_ids.remove(category.id)
            return ctx.empty(204)
        raise method_not_allowed(method)

    def app_categories(self, ctx: Ctx, app: App, rest: list[str]) -> Response:
        method = ctx.request.method
        if not rest and method == "GET":
            value = [
                render_category(self.state.categories[c])
                for c in app.category_ids
                if c in self.state.categories
            ]
            return ctx.json(
                200,
                {"@odata.context": ctx.context("deviceAppManagement/mobileAppCategories"),
                 "value": value},
            )  # fmt: skip
        if rest == ["$ref"] and method == "POST":
            ref = ctx.body().get("@odata.id")
            if not isinstance(ref, str) or "mobileAppCategories" not in ref:
                raise bad_request("The '@odata.id' must reference a mobileAppCategory.")
            category_id = ref.rstrip("/").rsplit("/", 1)[-1]
            if category_id.startswith("mobileAppCategories("):
                category_id = category_id[len("mobileAppCategories(") :].strip("')")
            if category_id not in self.state.categories:
                raise not_found(f"The category '{category_id}'")
            if category_id not in app.category_ids:
                app.category_ids.append(category_id)
            return ctx.empty(204)
        if len(rest) == 2 and rest[1] == "$ref" and method == "DELETE":
            if rest[0] not in app.category_ids:
                raise not_found(f"The category reference '{rest[0]}'")
            app.category_ids.remove(rest[0])
            return ctx.empty(204)
        raise segment_error(rest[0] if rest else "categories")


def render_category(category: Category) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.mobileAppCategory",
        "id": category.id,
        "displayName": category.display_name,
        "lastModifiedDateTime": iso(category.modified),
    }


# The settings type each app type takes (learn.microsoft.com/graph/api/resources/
# intune-apps-win32lobappassignmentsettings, -ioslobappassignmentsettings,
# -macoslobappassignmentsettings); other LOB types take none of these.
SETTINGS_TYPES = {"win32LobApp": "win32LobAppAssignmentSettings",
                  "iosLobApp": "iosLobAppAssignmentSettings",
                  "macOSLobApp": "macOsLobAppAssignmentSettings"}


def check_assignment(ctx: Ctx, app: App, item: Any) -> None:
    """Judge an assignment body by the model of the request's API version (target, settings
    and their nested objects), and its settings type against the app's type."""
    if not isinstance(item, dict):
        raise bad_request("Each assignment must be an object.")
    model = schema.model(ctx.version)
    body = {k: v for k, v in item.items() if k not in ("id", "source", "sourceId")}
    model.check_typed("mobileAppAssignment", body)
    settings = item.get("settings")
    if isinstance(settings, dict) and "@odata.type" in settings:
        named = model.payload_type(settings["@odata.type"])
        wanted = SETTINGS_TYPES.get(app.type_name)
        if named != wanted and named in SETTINGS_TYPES.values():
            raise bad_request(
                f"The assignment settings type '#microsoft.graph.{named}' does not apply to an "
                f"app of type '#microsoft.graph.{app.type_name}'.")


def _assignment(item: Any, keep_id: bool = False) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise bad_request("Each assignment must be an object.")
    intent = item.get("intent")
    intents = {i.lower(): i for i in apptypes.INTENTS}
    if not isinstance(intent, str) or intent.lower() not in intents:
        raise bad_request(f"The intent '{intent}' is not valid.")
    target = item.get("target")
    if not isinstance(target, dict):
        raise bad_request("The property 'target' is required.")
    kind = str(target.get("@odata.type", "")).lstrip("#").lower().removeprefix(apptypes.PREFIX)
    if kind not in apptypes.TARGET_TYPES:
        raise bad_request(f"The target type '{target.get('@odata.type')}' is not valid.")
    if apptypes.TARGET_TYPES[kind] and not target.get("groupId"):
        raise bad_request("A group assignment target requires 'groupId'.")
    group = target.get("groupId") or kind
    assignment_id = item["id"] if keep_id else f"{group}_{uuid.uuid4().hex[:8]}_0"
    return {
        "@odata.type": "#microsoft.graph.mobileAppAssignment",
        "id": assignment_id,
        "intent": intents[intent.lower()],
        "target": copy.deepcopy(target),
        "settings": copy.deepcopy(item.get("settings")),
        "source": item.get("source", "direct"),
        "sourceId": item.get("sourceId"),
    }


_CATEGORY_SCHEMA = Schema(
    has_property=lambda p: p in ("id", "displayName", "lastModifiedDateTime"),
    lookup=lambda e, p: e.get(p),
    is_of=lambda e, t: False,
)
