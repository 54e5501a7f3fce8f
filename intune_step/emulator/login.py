"""The Entra listener: OpenID discovery and the client-credentials token endpoint.

See docs/protocol.md, "Token request" and "Client assertions".
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from urllib.parse import parse_qsl, unquote, urlsplit

from .assertions import check_signed_assertion, load_certificates
from .config import EmulatorConfig
from .faults import Fault, ServiceName
from .server import Request, Response
from .state import State, TokenGrant
from .tokens import TokenMinter, decode_unverified
from .wire import entra_error

WELL_KNOWN = "v2.0/.well-known/openid-configuration"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RESERVED_SCOPES = {"openid", "profile", "offline_access"}
FEDERATED_AUDIENCES = {
    "api://AzureADTokenExchange",
    "api://AzureADTokenExchangeUSGov",
    "api://AzureADTokenExchangeChina",
}
# Entra's own tokens for api://AzureADTokenExchange (a managed identity's, an Azure DevOps
# connection's) carry the exchange app's ID as aud; a federated credential names the URI.
TOKEN_EXCHANGE_APP_ID = "fb60f99c-7a34-4190-8149-302f77469936"


class LoginService:
    name: ServiceName = "login"
    server_header = "Microsoft-IIS/10.0"

    def __init__(
        self,
        config: EmulatorConfig,
        state: State,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        base_url: str,
        graph_url: str,
    ) -> None:
        self.config = config
        self.state = state
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.base_url = base_url
        self.graph_url = graph_url
        self.minter = TokenMinter(f"{base_url}/{tenant_id}/v2.0")
        self.registered_certificates = load_certificates(config.client_certificates)

    @property
    def token_endpoint(self) -> str:
        return f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/token"

    def fault_response(self, fault: Fault, request: Request) -> Response:
        body = fault.payload()
        if body is None:
            response = entra_error(
                fault.status,
                "temporarily_unavailable" if fault.status >= 500 else "invalid_request",
                90033 if fault.status >= 500 else 90014,
                "An injected fault.",
                request_id=request.request_id,
            )
            response.headers.update(fault.headers)
            return response
        headers = {"Content-Type": "application/json; charset=utf-8", **fault.headers}
        return Response(fault.status, body, headers)

    def handle(self, request: Request) -> Response:
        segments = [unquote(s) for s in request.path.strip("/").split("/")]
        rid = request.request_id
        if request.method == "GET" and segments == ["common", "discovery", "instance"]:
            return self._instance_discovery(request)
        if len(segments) >= 2 and segments[0] != self.tenant_id and segments[0] != "common":
            return self._unknown_tenant(segments[0], rid)
        if request.method == "GET" and segments[1:] == [
            "v2.0",
            ".well-known",
            "openid-configuration",
        ]:
            return self._openid_configuration()
        if request.method == "POST" and segments[1:] == ["oauth2", "v2.0", "token"]:
            if segments[0] != self.tenant_id:
                return self._unknown_tenant(segments[0], rid)
            return self._token(request)
        return entra_error(
            404, "invalid_request", 90011, "The request is not a known endpoint.", request_id=rid
        )

    # --- discovery -----------------------------------------------------------------------

    def _json(self, obj: object) -> Response:
        return Response(
            200, json.dumps(obj).encode(), {"Content-Type": "application/json; charset=utf-8"}
        )

    def _openid_configuration(self) -> Response:
        tenant_base = f"{self.base_url}/{self.tenant_id}"
        return self._json(
            {
                "token_endpoint": self.token_endpoint,
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{tenant_base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{tenant_base}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": f"{self.base_url}/oidc/userinfo",
                "authorization_endpoint": f"{tenant_base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{tenant_base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{tenant_base}/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "roles"],
                "kerberos_endpoint": f"{tenant_base}/kerberos",
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": urlsplit(self.graph_url).netloc,
                "rbac_url": "https://pas.windows.net",
            }
        )

    def _instance_discovery(self, request: Request) -> Response:
        params = dict(parse_qsl(request.query))
        endpoint = params.get("authorization_endpoint", "")
        parts = urlsplit(endpoint)
        tenant = (parts.path.strip("/").split("/") or [self.tenant_id])[0] or self.tenant_id
        host = urlsplit(self.base_url).netloc
        return self._json(
            {
                "tenant_discovery_endpoint": f"{self.base_url}/{tenant}/{WELL_KNOWN}",
                "api-version": "1.1",
                "metadata": [
                    {"preferred_network": host, "preferred_cache": host, "aliases": [host]}
                ],
            }
        )

    def _unknown_tenant(self, tenant: str, rid: str) -> Response:
        return entra_error(
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
            "are signing into the correct cloud. Check with your subscription administrator, "
            "this may happen if there are no active subscriptions for the tenant.",
            request_id=rid,
        )

    # --- token ---------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        rid = request.request_id
        try:
            form = dict(parse_qsl(request.read_body().decode("utf-8"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            form = {}
        client_id = form.get("client_id", "")
        secret = form.get("client_secret")
        basic = _basic_auth(request.headers.get("Authorization", ""))
        if basic is not None:
            client_id, secret = client_id or basic[0], basic[1]
        if form.get("grant_type") != "client_credentials":
            return entra_error(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{form.get('grant_type', '')}'.",
                request_id=rid,
            )
        if not client_id:
            return entra_error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
                request_id=rid,
            )
        if client_id != self.client_id:
            return entra_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.tenant_id}'. This can happen if the application has not been installed "
                "by the administrator of the tenant or consented to by any user in the tenant. "
                "You may have sent your authentication request to the wrong tenant.",
                request_id=rid,
            )
        problem = self._check_scope(form.get("scope", ""), rid)
        if problem is not None:
            return problem
        if "client_assertion" in form:
            problem = self._check_assertion(form, rid)
            appidacr = "2"
        elif secret is not None:
            problem = None if secret == self.client_secret else self._bad_secret(rid)
            appidacr = "1"
        else:
            return entra_error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
                request_id=rid,
            )
        if problem is not None:
            return problem
        return self._issue(appidacr)

    def _check_scope(self, scope: str, rid: str) -> Response | None:
        scopes = [s for s in scope.split() if s not in RESERVED_SCOPES]
        want = self.graph_url.rstrip("/")
        if (
            len(scopes) == 1
            and scopes[0].endswith("/.default")
            and scopes[0][: -len("/.default")].rstrip("/") == want
        ):
            return None
        return entra_error(
            400,
            "invalid_scope",
            70011,
            f"The provided request must include a 'scope' input parameter. The provided value for "
            f"the input parameter 'scope' is not valid. The scope '{scope}' is not valid. The "
            f"scope must be '{want}/.default'.",
            request_id=rid,
        )

    def _bad_secret(self, rid: str) -> Response:
        return entra_error(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            f"client secret value, not the client secret ID, for a secret added to app "
            f"'{self.client_id}'.",
            request_id=rid,
        )

    def _check_assertion(self, form: dict[str, str], rid: str) -> Response | None:
        assertion = form.get("client_assertion", "")
        if form.get("client_assertion_type") != JWT_BEARER:
            return entra_error(
                400,
                "invalid_request",
                700023,
                f"client_assertion_type must be '{JWT_BEARER}'.",
                request_id=rid,
            )
        try:
            if assertion.startswith(("b'", 'b"')):
                raise ValueError("a Python bytes literal was sent as text")
            header, claims = decode_unverified(assertion)
        except ValueError as exc:
            return entra_error(
                400,
                "invalid_request",
                50027,
                f"JWT token is invalid or malformed ({exc}).",
                request_id=rid,
            )
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp < time.time():
            return entra_error(
                400,
                "invalid_client",
                700024,
                "Client assertion is not within its valid time range.",
                request_id=rid,
            )
        sub, iss, aud = claims.get("sub"), claims.get("iss"), claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if sub == self.client_id:
            if iss != self.client_id:
                return entra_error(
                    401,
                    "invalid_client",
                    700021,
                    "Client assertion application identifier doesn't match 'client_id' parameter.",
                    request_id=rid,
                )
            if not any(isinstance(a, str) and a.startswith(self.base_url) for a in auds):
                return entra_error(
                    401,
                    "invalid_client",
                    700212,
                    f"The client assertion audience must be '{self.token_endpoint}'.",
                    request_id=rid,
                )
            if self.registered_certificates or self.config.trusted_certificate_subjects:
                reason = check_signed_assertion(
                    assertion,
                    header,
                    self.registered_certificates,
                    self.config.trusted_certificate_subjects,
                )
                if reason is not None:
                    return entra_error(401, "invalid_client", 700027, reason, request_id=rid)
            return None
        matches = sub in self.config.federated_subjects or (
            (iss, sub) in self.config.federated_credentials
        )
        accepted = FEDERATED_AUDIENCES | {TOKEN_EXCHANGE_APP_ID}
        if matches and accepted.intersection(a for a in auds if isinstance(a, str)):
            return None
        return entra_error(
            400,
            "invalid_client",
            70021,
            f"No matching federated identity record found for presented assertion. Assertion "
            f"Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{aud}'.",
            request_id=rid,
        )

    def _issue(self, appidacr: str) -> Response:
        lifetime = self.config.token_lifetime_s
        with self.state.lock:
            roles = self.state.roles
        tid = self.config.token_tid or self.tenant_id
        token, exp = self.minter.mint(
            audience=self.graph_url.rstrip("/"),
            tid=tid,
            appid=self.client_id,
            roles=roles,
            lifetime_s=lifetime,
            appidacr=appidacr,
        )
        grant = TokenGrant(token, exp, roles, tid, self.client_id, self.graph_url.rstrip("/"))
        with self.state.lock:
            self.state.tokens[token] = grant
            self.state.issued_tokens.append(token)
        body = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
        return Response(
            200,
            json.dumps(body).encode(),
            {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"},
        )


def _basic_auth(header: str) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: client_id:client_secret, each form-urlencoded, in HTTP Basic."""
    if not header.lower().startswith("basic "):
        return None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = raw.partition(":")
    if not sep:
        return None
    return unquote(user), unquote(password)
