"""The Graph listener: ``/v1.0`` and ``/beta`` ``deviceAppManagement`` as Intune serves it (§2).

Routing walks the path segment by segment so an unknown segment is named in the error, as
Graph does ("Resource not found for the segment 'deviceAppManagement'").
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any
from urllib.parse import unquote

from . import apptypes
from .backends import BlobBackend
from .config import READ_ROLE, READ_WRITE_ROLE, EmulatorConfig
from .content import ContentApi
from .faults import Fault
from .graph_common import Ctx, HttpError, bad_request, not_found, segment_error
from .odata_filter import FilterError, Schema, compile_filter
from .server import Request, Response
from .state import App, Category, State
from .tokens import decode_unverified
from .wire import graph_error, iso, json_response, utcnow

VERSIONS = ("v1.0", "beta")
DEFAULT_CATEGORIES = (
    "Other apps", "Books & Reference", "Data management", "Productivity", "Business",
    "Development & Design", "Photos & Media", "Collaboration & Social", "Computer management",
)  # fmt: skip
STATUS_CODES = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "ResourceNotFound",
    409: "Conflict", 412: "PreconditionFailed", 429: "TooManyRequests", 500: "InternalError",
    502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout",
}  # fmt: skip
WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    'authorize", client_id="00000003-0000-0000-c000-000000000000"'
)


class GraphService:
    name = "graph"
    server_header = "Microsoft-IIS/10.0"

    def __init__(
        self,
        config: EmulatorConfig,
        state: State,
        backend: BlobBackend,
        *,
        tenant_id: str,
        graph_url: str,
    ) -> None:
        self.config = config
        self.state = state
        self.tenant_id = tenant_id
        self.graph_url = graph_url
        self.content = ContentApi(config, state, backend)
        now = utcnow()
        for name in DEFAULT_CATEGORIES:
            category = Category(str(uuid.uuid4()), name, now)
            state.categories[category.id] = category

    # --- entry points --------------------------------------------------------------------

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.body is None:
            code = STATUS_CODES.get(fault.status, "BadRequest")
            text = {
                429: "Too many requests. Please retry after a while.",
                503: "The service is temporarily unavailable.",
                504: "The gateway timed out.",
            }.get(fault.status, "An error has occurred")
            return graph_error(
                fault.status,
                code,
                text,
                request_id=request.request_id,
                client_request_id=request.headers.get("client-request-id"),
                path=request.path,
                headers=dict(fault.headers),
            )
        if isinstance(fault.body, dict):
            return json_response(fault.status, fault.body, dict(fault.headers))
        body = fault.body if isinstance(fault.body, bytes) else fault.body.encode()
        return Response(fault.status, body, {"Content-Type": "application/json", **fault.headers})

    def handle(self, request: Request) -> Response:
        segments = [unquote(s) for s in request.path.split("/")[1:]]
        version = segments[0] if segments else ""
        ctx = Ctx.build(request, version if version in VERSIONS else "v1.0", self.graph_url)
        try:
            self._authorise(ctx)
            if version not in VERSIONS:
                raise bad_request(f"Invalid version: {version}", nested=False)
            if len(segments) < 2 or segments[1].lower() != "deviceappmanagement":
                raise segment_error(segments[1] if len(segments) > 1 else "")
            rest = segments[2:]
            if not rest:
                raise segment_error("deviceAppManagement")
            head = rest[0].lower()
            try:
                ctx.preload()
            except ValueError as exc:
                raise HttpError(413, "RequestEntityTooLarge", str(exc), nested=False) from exc
            with self.state.lock:
                if head == "mobileapps":
                    return self._mobile_apps(ctx, rest[1:])
                if head == "mobileappcategories":
                    return self._categories(ctx, rest[1:])
            raise segment_error(rest[0])
        except HttpError as exc:
            return ctx.error(exc)

    # --- authentication and permissions --------------------------------------------------

    def _authorise(self, ctx: Ctx) -> None:
        header = ctx.request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""

        def unauthorised(text: str) -> HttpError:
            return HttpError(
                401,
                "InvalidAuthenticationToken",
                text,
                nested=False,
                headers={"WWW-Authenticate": WWW_AUTHENTICATE},
            )

        if not token:
            raise unauthorised("Access token is empty.")
        with self.state.lock:
            grant = self.state.tokens.get(token)
        if grant is None:
            try:
                decode_unverified(token)
            except ValueError:
                raise unauthorised("IDX14100: JWT is not well formed.") from None
            raise unauthorised("Access token validation failure. Invalid signature.")
        if time.time() >= grant.expires_at:
            raise unauthorised("Lifetime validation failed, the token is expired.")
        if grant.tid != self.tenant_id:
            raise unauthorised("Access token validation failure. Invalid tenant.")
        if not self.config.require_roles:
            return
        write = ctx.request.method not in ("GET", "HEAD")
        needed = (READ_WRITE_ROLE,) if write else (READ_ROLE, READ_WRITE_ROLE)
        if not set(needed) & set(grant.roles):
            raise HttpError(
                403,
                "Forbidden",
                "Application is not authorized to perform this operation. Application must have "
                f"one of the following scopes: {', '.join(needed)}",
            )

    # --- mobileApps ----------------------------------------------------------------------

    def _mobile_apps(self, ctx: Ctx, rest: list[str]) -> Response:
        method = ctx.request.method
        if not rest:
            if method == "GET":
                return self._list_apps(ctx)
            if method == "POST":
                return self._create_app(ctx)
            raise _method(method)
        app = self.state.apps.get(rest[0])
        if app is None:
            raise not_found(f"The mobile app '{rest[0]}'")
        if len(rest) == 1:
            if method == "GET":
                return self._get_app(ctx, app)
            if method == "PATCH":
                return self._patch_app(ctx, app)
            if method == "DELETE":
                del self.state.apps[app.id]
                self.content.drop_app(app)
                return ctx.empty(204)
            raise _method(method)
        cast: str | None = None
        sub = rest[1:]
        if sub[0].lower().startswith(apptypes.PREFIX):
            cast = apptypes.canonical(sub[0])
            if cast is None:
                raise segment_error(sub[0])
            sub = sub[1:]
            if not sub:
                if method == "GET" and cast in (app.type_name, "mobileLobApp"):
                    return self._get_app(ctx, app)
                raise segment_error(rest[1])
        name = sub[0].lower()
        if name == "contentversions":
            return self.content.route(ctx, app, cast, sub[1:])
        if cast is not None:
            raise segment_error(sub[0])
        if name == "assign" and len(sub) == 1 and method == "POST":
            return self._assign(ctx, app)
        if name == "assignments":
            return self._assignments(ctx, app, sub[1:])
        if name == "categories":
            return self._app_categories(ctx, app, sub[1:])
        raise segment_error(sub[0])

    def render_app(self, app: App, beta: bool = True) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "@odata.type": apptypes.odata(app.type_name),
            "id": app.id,
            "displayName": None,
            "description": None,
            "publisher": None,
            "largeIcon": None,
            "isFeatured": False,
            "privacyInformationUrl": None,
            "informationUrl": None,
            "owner": None,
            "developer": None,
            "notes": None,
            "fileName": None,
            **copy.deepcopy(app.props),
            "createdDateTime": iso(app.created),
            "lastModifiedDateTime": iso(app.modified),
            "publishingState": app.publishing_state,
            "committedContentVersion": app.committed_version,
            "size": self._committed_size(app),
        }
        if beta:
            entity.setdefault("roleScopeTagIds", ["0"])
            entity.update(
                uploadState=1 if app.committed_version else 0,
                isAssigned=bool(app.assignments),
                dependentAppCount=0,
                supersedingAppCount=0,
                supersededAppCount=0,
            )
        else:
            for name in apptypes.BETA_ONLY:
                entity.pop(name, None)
        return entity

    def _committed_size(self, app: App) -> int:
        version = app.versions.get(app.committed_version or "")
        if version is None:
            return 0
        return sum(f.size for f in version.files.values() if not f.is_dependency)

    def _expanded(self, ctx: Ctx, app: App, entity: dict[str, Any]) -> dict[str, Any]:
        for name in _list_option(ctx, "$expand"):
            if name.lower() == "categories":
                entity["categories"] = [
                    _render_category(self.state.categories[c])
                    for c in app.category_ids
                    if c in self.state.categories
                ]
            elif name.lower() == "assignments":
                entity["assignments"] = copy.deepcopy(app.assignments)
            else:
                raise bad_request(_no_property(name), nested=False)
        return entity

    def _observe_publish(self, app: App) -> None:
        if app.publishing_state != "processing":
            return
        if app.publish_polls_left > 0:
            app.publish_polls_left -= 1
        else:
            app.publishing_state = "published"

    def _get_app(self, ctx: Ctx, app: App) -> Response:
        self._observe_publish(app)
        entity = self._expanded(ctx, app, self.render_app(app, ctx.beta))
        select = _list_option(ctx, "$select")
        if select:
            keep = {"@odata.type", "id", *select, "categories", "assignments"}
            entity = {k: v for k, v in entity.items() if k in keep}
        context = ctx.context("deviceAppManagement/mobileApps/$entity")
        return ctx.json(200, {"@odata.context": context, **entity})

    def _list_apps(self, ctx: Ctx) -> Response:
        select = _list_option(ctx, "$select")
        for name in select:
            if name not in apptypes.BASE_PROPERTIES:
                raise bad_request(_no_property(name), nested=False)
        entities = [
            (app, self.render_app(app, beta=True)) for app in self.state.apps.values()
        ]  # filter on the full (beta) shape, render per version below
        raw_filter = ctx.query.get("$filter")
        if raw_filter:
            try:
                test = compile_filter(raw_filter, _APP_SCHEMA)
            except FilterError as exc:
                raise bad_request(str(exc), nested=False) from exc
            entities = [(a, e) for a, e in entities if test(e)]
        entities = _ordered(ctx, entities)
        items = []
        for app, _ in entities:
            entity = self._expanded(ctx, app, self.render_app(app, ctx.beta))
            if select:
                keep = {"@odata.type", "id", *select, "categories", "assignments"}
                entity = {k: v for k, v in entity.items() if k in keep}
            items.append(entity)
        return ctx.page(
            items,
            context=ctx.context("deviceAppManagement/mobileApps"),
            page_size=self.config.page_size,
        )

    def _create_app(self, ctx: Ctx) -> Response:
        body = ctx.body()
        raw_type = body.get("@odata.type")
        if raw_type is None:
            raise bad_request(
                "Cannot create an abstract class: '@odata.type' is required.", nested=False
            )
        type_name = apptypes.canonical(raw_type)
        if type_name not in apptypes.LOB_TYPES:
            raise bad_request(
                f"A type named '{str(raw_type).lstrip('#')}' could not be resolved by the model. "
                "When a model is available, each type name must resolve to a valid type.",
                nested=False,
            )
        problem = apptypes.validate_new_app(type_name, body)
        if problem:
            raise bad_request(problem)
        now = utcnow()
        app = App(
            id=str(uuid.uuid4()),
            type_name=type_name,
            props=_writable(body),
            created=now,
            modified=now,
        )
        if ctx.beta:
            app.props.setdefault("roleScopeTagIds", ["0"])
        self.state.apps[app.id] = app
        entity = self.render_app(app, ctx.beta)
        body_out = {"@odata.context": ctx.context("deviceAppManagement/mobileApps/$entity")}
        body_out.update(entity)
        location = f"{ctx.base}/deviceAppManagement/mobileApps/{app.id}"
        return ctx.json(201, body_out, {"Location": location})

    def _patch_app(self, ctx: Ctx, app: App) -> Response:
        body = ctx.body()
        raw_type = body.get("@odata.type")
        if raw_type is not None and apptypes.canonical(raw_type) != app.type_name:
            raise bad_request(
                f"The @odata.type '{raw_type}' does not match the app's type "
                f"'{apptypes.odata(app.type_name)}'.",
            )
        if "committedContentVersion" in body:
            self._check_commit_reference(app, body, raw_type)
        problem = apptypes.validate_min_os(body.get("minimumSupportedOperatingSystem"))
        if problem:
            raise bad_request(problem)
        app.props.update(_writable(body))
        app.modified = utcnow()
        if "committedContentVersion" in body:
            app.committed_version = str(body["committedContentVersion"])
            app.publishing_state = "processing"
            app.publish_polls_left = self.config.publish_pending_polls
        if self.config.patch_status == 200:
            return ctx.json(200, self.render_app(app, ctx.beta))
        return ctx.empty(self.config.patch_status)

    def _check_commit_reference(self, app: App, body: dict[str, Any], raw_type: Any) -> None:
        if raw_type is None:
            raise bad_request(
                "The '@odata.type' of the app is required when setting committedContentVersion."
            )
        version_id = body["committedContentVersion"]
        version = app.versions.get(str(version_id)) if version_id is not None else None
        if version is None:
            raise bad_request(f"The content version '{version_id}' does not exist.")
        files = list(version.files.values())
        if not files or any(f.upload_state != "commitFileSuccess" for f in files):
            raise bad_request(
                f"The content version '{version_id}' has no successfully committed file."
            )
        cooldown = self.config.patch_cooldown_s
        newest = max(f.committed_at or 0.0 for f in files)
        if cooldown and time.monotonic() - newest < cooldown:
            raise bad_request("An error has occurred")

    # --- assignments ---------------------------------------------------------------------

    def _require_published(self, app: App) -> None:
        self._observe_publish(app)
        if self.config.require_published_for_assign and app.publishing_state != "published":
            raise bad_request(
                f"The app cannot be assigned while its publishingState is '{app.publishing_state}'."
            )

    def _assign(self, ctx: Ctx, app: App) -> Response:
        body = ctx.body()
        items = body.get("mobileAppAssignments")
        if not isinstance(items, list):
            raise bad_request("The property 'mobileAppAssignments' must be an array.")
        assignments = [_assignment(item) for item in items]
        self._require_published(app)
        app.assignments = assignments
        if self.config.assign_status == 200:
            return Response(200, b"", ctx.headers())
        return ctx.empty(self.config.assign_status)

    def _assignments(self, ctx: Ctx, app: App, rest: list[str]) -> Response:
        method = ctx.request.method
        context = ctx.context(f"deviceAppManagement/mobileApps('{app.id}')/assignments")
        if not rest:
            if method == "GET":
                return ctx.json(
                    200, {"@odata.context": context, "value": copy.deepcopy(app.assignments)}
                )
            if method == "POST":
                assignment = _assignment(ctx.body())
                self._require_published(app)
                app.assignments.append(assignment)
                return ctx.json(201, {"@odata.context": f"{context}/$entity", **assignment})
            raise _method(method)
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
        raise _method(method)

    # --- categories ----------------------------------------------------------------------

    def _categories(self, ctx: Ctx, rest: list[str]) -> Response:
        method = ctx.request.method
        cats = self.state.categories
        if not rest:
            if method == "GET":
                items = [_render_category(c) for c in cats.values()]
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
                category = Category(str(uuid.uuid4()), name, utcnow())
                cats[category.id] = category
                context = ctx.context("deviceAppManagement/mobileAppCategories/$entity")
                return ctx.json(201, {"@odata.context": context, **_render_category(category)})
            raise _method(method)
        category = cats.get(rest[0])
        if category is None or len(rest) > 1:
            raise not_found(f"The category '{rest[0]}'")
        if method == "GET":
            return ctx.json(200, _render_category(category))
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
        raise _method(method)

    def _app_categories(self, ctx: Ctx, app: App, rest: list[str]) -> Response:
        method = ctx.request.method
        if not rest and method == "GET":
            value = [
                _render_category(self.state.categories[c])
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


# --- helpers -----------------------------------------------------------------------------


def _method(method: str) -> HttpError:
    return HttpError(
        405, "BadRequest", f"The HTTP method '{method}' is not allowed here.", nested=False
    )


def _no_property(name: str) -> str:
    return f"Could not find a property named '{name}' on type 'microsoft.graph.mobileApp'."


def _list_option(ctx: Ctx, name: str) -> list[str]:
    raw = ctx.query.get(name, "")
    return [part.strip() for part in raw.split(",") if part.strip()]


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    """What a client may set: not read-only fields, annotations or navigation properties."""
    skip = apptypes.READ_ONLY | {"categories", "assignments", "committedContentVersion"}
    return {k: copy.deepcopy(v) for k, v in body.items() if k not in skip and "@" not in k}


def _ordered(ctx: Ctx, pairs: list[tuple[App, dict[str, Any]]]) -> list[tuple[App, dict[str, Any]]]:
    for clause in reversed(_list_option(ctx, "$orderby")):
        name, _, direction = clause.partition(" ")
        if name not in apptypes.BASE_PROPERTIES:
            raise bad_request(_no_property(name), nested=False)
        reverse = direction.strip().lower() == "desc"
        pairs = sorted(
            pairs,
            key=lambda p: (p[1].get(name) is None, json.dumps(p[1].get(name))),
            reverse=reverse,
        )
    return pairs


def _render_category(category: Category) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.mobileAppCategory",
        "id": category.id,
        "displayName": category.display_name,
        "lastModifiedDateTime": iso(category.modified),
    }


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


def _app_has(path: str) -> bool:
    if "/" in path:
        cast, _, _ = path.rpartition("/")
        return apptypes.canonical(cast) is not None
    return path in apptypes.BASE_PROPERTIES


def _app_lookup(entity: dict[str, Any], path: str) -> Any:
    if "/" in path:
        cast, _, name = path.rpartition("/")
        if not _is_of(entity, cast):
            return None
        return entity.get(name)
    return entity.get(path)


def _is_of(entity: dict[str, Any], type_name: str) -> bool:
    wanted = apptypes.canonical(type_name)
    actual = apptypes.canonical(entity.get("@odata.type"))
    return wanted is not None and (wanted == actual or wanted in ("mobileLobApp", "mobileApp"))


_APP_SCHEMA = Schema(has_property=_app_has, lookup=_app_lookup, is_of=_is_of)
_CATEGORY_SCHEMA = Schema(
    has_property=lambda p: p in ("id", "displayName", "lastModifiedDateTime"),
    lookup=lambda e, p: e.get(p),
    is_of=lambda e, t: False,
)
