"""The managed identity endpoints of an Azure machine, as MSAL talks to them.

Two forms on one plain-http loopback port (the real endpoints are plain http too:
169.254.169.254 and localhost): the VM's instance metadata service (IMDS,
``GET /metadata/identity/oauth2/token``, header ``Metadata: true``; MSAL reaches it here through
``AZURE_POD_IDENTITY_AUTHORITY_HOST``) and App Service's (``GET /msi/token``, header
``X-IDENTITY-HEADER``; through ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER``). See
docs/protocol.md, "Managed identity endpoints".

A token for Graph carries the identity's roles and is accepted by this emulator's Graph; a token
for ``api://AzureADTokenExchange`` is shaped like Entra's (v2 issuer of this tenant, ``sub`` the
identity's object ID, ``aud`` the token exchange app's ID), so another emulator whose app
registration trusts the identity takes it as a client assertion.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from .config import EmulatorConfig, ManagedIdentityConfig
from .faults import Fault, ServiceName
from .login import FEDERATED_AUDIENCES, TOKEN_EXCHANGE_APP_ID
from .server import Request, Response
from .state import State, TokenGrant
from .tokens import TokenMinter

IMDS_PATH = "/metadata/identity/oauth2/token"
APP_SERVICE_PATH = "/msi/token"
IMDS_SELECTORS = ("client_id", "object_id", "msi_res_id")
APP_SERVICE_SELECTORS = ("client_id", "object_id", "principal_id", "mi_res_id")
JSON = {"Content-Type": "application/json; charset=utf-8"}


class IdentityService:
    name: ServiceName = "identity"
    server_header = "Microsoft-IIS/10.0"

    def __init__(self, config: EmulatorConfig, state: State, *, tenant_id: str, issuer: str,
                 graph_url: str, header_secret: str) -> None:
        self.config = config
        self.state = state
        self.tenant_id = tenant_id
        self.issuer = issuer  # the login's v2 issuer: what a federated credential names
        self.graph_url = graph_url.rstrip("/")
        self.header_secret = header_secret
        self.minter = TokenMinter(issuer)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        body = fault.payload()
        if body is None:
            body = json.dumps({"error": "unknown", "error_description": "An injected fault."}
                              ).encode()
        return Response(fault.status, body, {**JSON, **fault.headers})

    def handle(self, request: Request) -> Response:
        if request.path == IMDS_PATH:
            return self._imds(request)
        if request.path.rstrip("/").lower() == APP_SERVICE_PATH:
            return self._app_service(request)
        return _imds_error(404, "not_found", "The requested path was not found.")

    # --- IMDS ----------------------------------------------------------------------------

    def _imds(self, request: Request) -> Response:
        if request.method != "GET":
            return _imds_error(405, "invalid_request", "The requested method is not supported.")
        if request.headers.get("Metadata") != "true":  # exactly "true", lower case
            return _imds_error(400, "bad_request_102", "Required metadata header not specified")
        query = dict(parse_qsl(request.query))
        if not query.get("api-version"):
            return _imds_error(400, "invalid_request", "Required query variable 'api-version' "
                               "is missing")
        resource = query.get("resource", "")
        if not resource:
            return _imds_error(400, "invalid_request", "Required query variable 'resource' is "
                               "missing")
        selectors = [(key, query[key]) for key in IMDS_SELECTORS if query.get(key)]
        if len(selectors) > 1:
            return _imds_error(400, "invalid_request", "Only one of client_id, object_id and "
                               "msi_res_id may be given")
        identity = self._find(selectors[0] if selectors else None)
        if identity is None:
            return _imds_error(400, "invalid_request", "Identity not found")
        return self._token(identity, resource, request,
                           lambda: _imds_error(400, "invalid_resource", self._no_resource(
                               resource)))

    # --- App Service ---------------------------------------------------------------------

    def _app_service(self, request: Request) -> Response:
        if request.method != "GET":
            return _app_error(405, "The requested method is not supported.")
        if request.headers.get("X-IDENTITY-HEADER") != self.header_secret:
            return _app_error(400, "The request is missing or has a wrong X-IDENTITY-HEADER.")
        query = dict(parse_qsl(request.query))
        resource = query.get("resource", "")
        if not query.get("api-version") or not resource:
            return _app_error(400, "The request needs api-version and resource.")
        selectors = [(key, query[key]) for key in APP_SERVICE_SELECTORS if query.get(key)]
        if len(selectors) > 1:
            return _app_error(400, "Only one identity selector may be given.")
        identity = self._find(selectors[0] if selectors else None)
        if identity is None:
            return _app_error(400, "Unable to load the proper Managed Identity.")
        return self._token(identity, resource, request,
                           lambda: _app_error(500, self._no_resource(resource)))

    # --- common --------------------------------------------------------------------------

    def _find(self, selector: tuple[str, str] | None) -> ManagedIdentityConfig | None:
        identities = self.config.managed_identities
        if selector is None:
            system = [i for i in identities if i.system_assigned]
            if system:
                return system[0]
            # A machine whose only identity is one user-assigned identity answers with it
            # (MSAL's acquire_token_for_client notes this service-side behaviour).
            return identities[0] if len(identities) == 1 else None
        key, value = selector
        for identity in identities:
            if identity.system_assigned:
                continue
            if key == "client_id" and identity.client_id.lower() == value.lower():
                return identity
            if key in ("object_id", "principal_id") and (
                    identity.object_id.lower() == value.lower()):
                return identity
            if key in ("msi_res_id", "mi_res_id") and identity.resource_id and (
                    identity.resource_id.lower() == value.lower()):
                return identity
        return None

    def _no_resource(self, resource: str) -> str:
        return (f"AADSTS500011: The resource principal named {resource} was not found in the "
                f"tenant named {self.tenant_id}. This can happen if the application has not "
                "been installed by the administrator of the tenant or consented to by any user "
                "in the tenant. You might have sent your authentication request to the wrong "
                "tenant.")

    def _token(self, identity: ManagedIdentityConfig, resource: str, request: Request,
               unknown: Callable[[], Response]) -> Response:
        """The identity's token for ``resource``; ``unknown()`` answers any other resource."""
        lifetime = self.config.token_lifetime_s
        base: dict[str, object] = {"oid": identity.object_id, "sub": identity.object_id,
                "xms_mirid": identity.resource_id or ""}
        if resource.rstrip("/") == self.graph_url:
            audience, roles = self.graph_url, identity.roles
            claims = base
        elif resource in FEDERATED_AUDIENCES:
            # Entra's token for the exchange: a v2 token whose aud is the exchange app's ID.
            audience, roles = TOKEN_EXCHANGE_APP_ID, ()
            claims = {**base, "azp": identity.client_id, "azpacr": "2", "ver": "2.0"}
        else:
            return unknown()
        token, exp = self.minter.mint(audience=audience, tid=self.tenant_id,
                                      appid=identity.client_id, roles=roles,
                                      lifetime_s=lifetime, appidacr="2", claims=claims)
        if audience == self.graph_url:
            grant = TokenGrant(token, exp, roles, self.tenant_id, identity.client_id, audience)
            with self.state.lock:
                self.state.tokens[token] = grant
        with self.state.lock:
            self.state.issued_tokens.append(token)
        now = int(time.time())
        body = {"access_token": token, "client_id": identity.client_id,
                "expires_in": str(lifetime), "expires_on": str(int(exp)),
                "ext_expires_in": str(lifetime), "not_before": str(now), "resource": resource,
                "token_type": "Bearer"}
        return Response(200, json.dumps(body).encode(), dict(JSON))


def _imds_error(status: int, error: str, description: str) -> Response:
    body = {"error": error, "error_description": description}
    return Response(status, json.dumps(body).encode(), dict(JSON))


def _app_error(status: int, message: str) -> Response:
    body = {"statusCode": status, "message": message, "correlationId": "emulator"}
    return Response(status, json.dumps(body).encode(), dict(JSON))
