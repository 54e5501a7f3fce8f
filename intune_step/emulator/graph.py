"""The Graph listener: ``/v1.0`` and ``/beta`` ``deviceAppManagement`` as Intune serves it.

See docs/protocol.md, "Graph conventions" and "Upload sequence".

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

from . import apptypes, directory, requirements, schema
from .backends import BlobBackend
from .config import READ_ROLE, READ_WRITE_ROLE, EmulatorConfig
from .content import ContentApi
from .faults import Fault, ServiceName
from .graph_common import (
    Ctx,
    HttpError,
    bad_request,
    method_not_allowed,
    not_found,
    segment_error,
)
from .odata_filter import FilterError, Schema, compile_filter
from .relations import RelationsApi, render_category
from .relationships import RelationshipsApi
from .reports import ALL_ROLES, ReportsApi
from .server import Request, Response
from .state import App, State
from .throttle import Throttle
from .tokens import decode_unverified
from .wire import graph_error, iso, json_response, utcnow

VERSIONS = ("v1.0", "beta")
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
    name: ServiceName = "graph"
    server_header = "Microsoft-IIS/10.0"

    def __init__(
        self,
        config: EmulatorConfig,
        state: State,
        backend: BlobBackend,
        *,
        tenant_id: str,
        graph_url: str,
        reports: ReportsApi | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.tenant_id = tenant_id
        self.graph_url = graph_url
        self.content = ContentApi(config, state, backend)
        self.relations = RelationsApi(config, state)
        self.relationships = RelationshipsApi(config, state)
        self.directory = directory.DirectoryApi(config, state.directory)
        self.reports = reports  # deviceManagement/reports and the fleet's groups
        self.throttle = Throttle(config)

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
            head_segment = segments[1].lower() if len(segments) > 1 else ""
            roles = self._authorise(ctx, apps=head_segment == "deviceappmanagement")
            self._throttle(ctx)
            if version not in VERSIONS:
                raise bad_request(f"Invalid version: {version}", nested=False)
            # Group members and reports (the install gate) check their own permissions; the
            # directory's groups and Intune's assignment filters need theirs (directory.py).
            members = head_segment == "groups" and len(segments) > 3
            routed = directory.roles_for(segments)
            if self.reports is not None and (members or (
                    head_segment == "devicemanagement" and routed is None)):
                ctx.preload()
                with self.state.lock:
                    if head_segment == "groups":
                        return self.reports.members(ctx, segments[2:], roles)
                    return self.reports.route(ctx, segments[2:], roles)
            if routed is not None:
                if not set(routed[0]) & set(roles):
                    raise directory.forbidden(*routed)
                ctx.preload()
                with self.state.lock:
                    if head_segment == "groups":
                        return self.directory.groups(ctx, segments[2:])
                    return self.directory.filters(ctx, segments[3:])
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
                    return self.relations.categories(ctx, rest[1:])
            raise segment_error(rest[0])
        except HttpError as exc:
            return ctx.error(exc)

    # --- authentication and permissions --------------------------------------------------

    def _authorise(self, ctx: Ctx, apps: bool = True) -> tuple[str, ...]:
        """The token's roles; ``apps``: check deviceAppManagement's permissions here."""
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
            return ALL_ROLES
        if not apps:
            return grant.roles
        write = ctx.request.method not in ("GET", "HEAD")
        needed = (READ_WRITE_ROLE,) if write else (READ_ROLE, READ_WRITE_ROLE)
        if not set(needed) & set(grant.roles):
            raise HttpError(
                403,
                "Forbidden",
                "Application is not authorized to perform this operation. Application must have "
                f"one of the following scopes: {', '.join(needed)}",
            )
        return grant.roles

    def _throttle(self, ctx: Ctx) -> None:
        header = ctx.request.headers.get("Authorization", "")
        with self.state.lock:
            grant = self.state.tokens[header[7:].strip()]  # _authorise found it
        write = ctx.request.method not in ("GET", "HEAD")
        wait = self.throttle.check(grant.tid, grant.appid, write)
        if wait is not None:
            raise HttpError(429, "TooManyRequests", "Too many requests. Please retry after a "
                            "while.", nested=False, headers={"Retry-After": str(wait)})

    # --- mobileApps ----------------------------------------------------------------------

    def _mobile_apps(self, ctx: Ctx, rest: list[str]) -> Response:
        method = ctx.request.method
        if not rest:
            if method == "GET":
                return self._list_apps(ctx)
            if method == "POST":
                return self._create_app(ctx)
            raise method_not_allowed(method)
        app = self.state.apps.get(rest[0])
        if app is None:
            raise not_found(f"The mobile app '{rest[0]}'")
        if len(rest) == 1:
            if method == "GET":
                return self._get_app(ctx, app)
            if method == "PATCH":
                return self._patch_app(ctx, app)
            if method == "DELETE":
                self.relationships.refuse_delete(app)
                del self.state.apps[app.id]
                self.content.drop_app(app)
                return ctx.empty(204)
            raise method_not_allowed(method)
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
            return self.relations.assign(ctx, app)
        if name == "assignments":
            return self.relations.assignments(ctx, app, sub[1:])
        if name == "categories":
            return self.relations.app_categories(ctx, app, sub[1:])
        if name == "relationships":
            return self.relationships.relationships(ctx, app, sub[1:])
        if name == "updaterelationships" and len(sub) == 1 and method == "POST":
            return self.relationships.update(ctx, app)
        raise segment_error(sub[0])

    def render_app(self, app: App, beta: bool = True) -> dict[str, Any]:
        """The app as Graph returns it: every structural property of its type in this API
        version (null when unset), what the client set, and what the service computes."""
        model = schema.model("beta" if beta else "v1.0")
        shown = app.type_name if model.has_type(app.type_name) else "mobileLobApp"
        entity: dict[str, Any] = {"@odata.type": apptypes.odata(app.type_name)}
        entity.update(dict.fromkeys(model.structural(shown)))
        entity["isFeatured"] = False
        entity.update({k: copy.deepcopy(v) for k, v in app.props.items() if k in entity})
        computed: dict[str, Any] = {
            "id": app.id,
            "createdDateTime": iso(app.created),
            "lastModifiedDateTime": iso(app.modified),
            "publishingState": app.publishing_state,
            "committedContentVersion": app.committed_version,
            "size": self._committed_size(app),
            "uploadState": 1 if app.committed_version else 0,
            "isAssigned": bool(app.assignments),
            **self.relationships.counts(app),
        }
        entity.update({k: v for k, v in computed.items() if k in entity})
        if "roleScopeTagIds" in entity and entity["roleScopeTagIds"] is None:
            entity["roleScopeTagIds"] = ["0"]
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
                    render_category(self.state.categories[c])
                    for c in app.category_ids
                    if c in self.state.categories
                ]
            elif name.lower() == "assignments":
                entity["assignments"] = copy.deepcopy(app.assignments)
            else:
                raise bad_request(_no_property(name), nested=False)
        return entity

    def _get_app(self, ctx: Ctx, app: App) -> Response:
        app.observe_publish(self.state.clock)
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
        model = schema.model(ctx.version)
        type_name = model.payload_type(raw_type)
        if type_name is None:
            raise schema.unresolved_type(raw_type)  # also a beta-only type on v1.0
        if type_name not in apptypes.LOB_TYPES:
            raise bad_request(
                f"The emulator creates LOB apps only, not '{raw_type}'.", nested=False
            )
        requirements.check_create(model, type_name, body, self._strictness())
        now = utcnow()
        app = App(
            id=str(uuid.uuid4()),
            type_name=type_name,
            props=_writable(model, type_name, body),
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

    def _strictness(self) -> requirements.Strictness:
        return requirements.Strictness(
            require_version_numbers=self.config.require_version_numbers,
            refuse_expired_profile=self.config.refuse_expired_profile,
        )

    def _patch_app(self, ctx: Ctx, app: App) -> Response:
        body = ctx.body()
        model = schema.model(ctx.version)
        requirements.check_patch(model, app.type_name, body, self._strictness())
        if "committedContentVersion" in body:
            self._check_commit_reference(app, body)
        app.props.update(_writable(model, app.type_name, body))
        app.modified = utcnow()
        if "committedContentVersion" in body:
            app.committed_version = str(body["committedContentVersion"])
            app.publishing_state = "processing"
            app.publish_polls_left = self.config.publish_pending_polls
            if self.state.clock is not None:
                app.publish_due, app.publish_delay = self.state.clock.due("publish")
        if self.config.patch_status == 200:
            return ctx.json(200, self.render_app(app, ctx.beta))
        return ctx.empty(self.config.patch_status)

    def _check_commit_reference(self, app: App, body: dict[str, Any]) -> None:
        # Without @odata.type the body was read as mobileApp, which has no
        # committedContentVersion: check_patch refused it already.
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


# --- helpers -----------------------------------------------------------------------------


def _no_property(name: str) -> str:
    return f"Could not find a property named '{name}' on type 'microsoft.graph.mobileApp'."


def _list_option(ctx: Ctx, name: str) -> list[str]:
    raw = ctx.query.get(name, "")
    return [part.strip() for part in raw.split(",") if part.strip()]


def _writable(model: schema.Model, type_name: str, body: dict[str, Any]) -> dict[str, Any]:
    """What a client may set: not read-only fields, annotations or navigation properties
    (the body was judged against the model already)."""
    props = model.properties(type_name) if model.has_type(type_name) else {}
    skip = model.read_only(type_name) | {"committedContentVersion", "id"}
    return {
        k: copy.deepcopy(v)
        for k, v in body.items()
        if k in props and k not in skip and not props[k].startswith("nav:")
    }


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
