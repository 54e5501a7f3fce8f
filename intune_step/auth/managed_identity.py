"""Sign in with the runner's managed identity: as the identity itself, or as an app registration
that trusts it (its token for api://AzureADTokenExchange is the client assertion).

MSAL's ``ManagedIdentityClient`` speaks each platform's endpoint (identity_endpoints.py) and
caches the tokens; it gets our httpx transport, so retries, deadlines and the trusted CAs are
the step's own. Every failure names the endpoint tried and what to check
(docs/credentials.md, "Managed identity").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import msal

from intune_step.auth.credentials import ClientCredential
from intune_step.auth.identity_endpoints import (
    IMDS_HOST,
    IdentityEndpoint,
    ManagedIdentity,
    identity_endpoint,
    plain_http_allowed,
)
from intune_step.auth.oidc import FederatedToken
from intune_step.auth.tokens import ENTRA_RETRY, MsalHttpClient, TokenProvider
from intune_step.config.credentials import MANAGED_IDENTITY
from intune_step.config.settings import Settings
from intune_step.errors import AuthError, IntuneStepError, ServiceError, SettingsError
from intune_step.report import Reporter
from intune_step.transport.attempts import THROTTLED_OR_5XX, Send
from intune_step.transport.deadline import Deadline
from intune_step.transport.diagnose import diagnose
from intune_step.transport.http import safe_url
from intune_step.transport.retry import RetryPolicy

FAILED = "managed identity sign-in failed"
# The platform's proof that a request comes from the machine itself (App Service, ML).
ENDPOINT_SECRETS = ("IDENTITY_HEADER", "MSI_SECRET")
# A local endpoint answers at once or not at all: do not wait the 15 s meant for the internet.
CONNECT_TIMEOUT = 3.0
# IMDS asks for retries on 404 (updating), 410 (back within 70 s), 429 and 5xx
# (how-to-use-vm-token, "Error handling").
IDENTITY_RETRY_STATUSES = THROTTLED_OR_5XX | {404, 410}


class IdentityHttp(MsalHttpClient):
    """MSAL's transport for the identity endpoint: a short connect timeout, IMDS's retry
    statuses, and http only where the endpoints documentedly listen."""

    statuses = IDENTITY_RETRY_STATUSES
    what = "managed identity endpoint"
    last_status: int | None = None  # of the last answer, for an error that MSAL words badly

    def __init__(self, client: httpx.Client, endpoint: IdentityEndpoint,
                 reporter: Reporter | None = None, retry: RetryPolicy | None = None) -> None:
        super().__init__(client, reporter, retry)
        self.endpoint = endpoint
        self.timeout = client.timeout if client.timeout.connect is None else httpx.Timeout(
            connect=min(client.timeout.connect, CONNECT_TIMEOUT), read=client.timeout.read,
            write=client.timeout.write, pool=client.timeout.pool)

    def _retrying(self, send: Send, deadline: Deadline) -> httpx.Response:
        response = super()._retrying(send, deadline)
        self.last_status = response.status_code
        return response

    def _check_url(self, url: str) -> None:
        target = httpx.URL(url)
        if target.scheme == "https" or (target.scheme == "http" and plain_http_allowed(target)):
            return
        raise SettingsError(
            f"the managed identity endpoint {safe_url(target)} ({self.endpoint.chosen_by}) is "
            "neither https nor on this machine: the step sends an identity request over plain "
            f"http only to {IMDS_HOST} (IMDS) or to this machine",
            fix="check the managed identity variables of the runner's environment")

    def _exhausted(self, response: httpx.Response, attempts: int) -> ServiceError:
        return ServiceError(
            f"managed identity sign-in failed: {self.endpoint.describe()} answered HTTP "
            f"{response.status_code} (gave up after {attempts} attempts)",
            fix="the identity endpoint is throttling or updating; re-run the step later")


class IdentityTokens:
    """The identity's tokens, one resource at a time, from MSAL's cache or the endpoint."""

    def __init__(self, identity: ManagedIdentity, http: httpx.Client, reporter: Reporter,
                 retry: RetryPolicy = ENTRA_RETRY) -> None:
        self.identity = identity
        self._http, self._reporter, self._retry = http, reporter, retry
        self._client = self._new_client()

    def _new_client(self) -> msal.ManagedIdentityClient:
        transport: Any
        self._transport: IdentityHttp | None = None
        if self.identity.endpoint.service_fabric:
            # MSAL pins Service Fabric's certificate by thumbprint on a requests.Session it
            # derives itself, and accepts no other client there.
            import requests

            transport = requests.Session()
        else:
            transport = self._transport = IdentityHttp(self._http, self.identity.endpoint,
                                                       self._reporter, self._retry)
        return msal.ManagedIdentityClient(self.identity.selector(), http_client=transport)

    def forget(self) -> None:
        """Drop the cached tokens: the next one comes from the endpoint."""
        self._client = self._new_client()

    def acquire(self, resource: str) -> str:
        endpoint = self.identity.endpoint
        try:
            result: Mapping[str, Any] = self._client.acquire_token_for_client(resource=resource)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        except IntuneStepError:
            raise
        except msal.ManagedIdentityError as exc:
            raise AuthError(f"{FAILED}: {endpoint.describe()}: {_first_line(exc)}",
                            fix=f"check {endpoint.check}") from exc
        except OSError as exc:  # Azure Arc: the challenge's key file could not be read
            raise AuthError(f"{FAILED}: cannot read the key file {endpoint.name} asked for "
                            f"({type(exc).__name__}: {exc.filename})",
                            fix=f"check {endpoint.check}") from exc
        except ValueError as exc:  # its answer was not JSON
            status = self._transport.last_status if self._transport else None
            answered = f"HTTP {status} and " if status else ""
            raise ServiceError(f"{FAILED}: {endpoint.describe()} answered {answered}something "
                               "other than JSON", fix="check that nothing else listens there (a "
                               "proxy must not intercept it)") from exc
        token = result.get("access_token")
        if not isinstance(token, str) or not token:
            raise self._refused(result, resource)
        self._reporter.mask(token)
        return token

    def _unreachable(self, error: httpx.HTTPError) -> AuthError:
        endpoint = self.identity.endpoint
        problem = diagnose(error, httpx.URL(endpoint.url).host)
        why = problem.sentence() if problem else type(error).__name__
        return AuthError(f"{FAILED}: no managed identity endpoint answered: "
                         f"{endpoint.describe()}: {why}", fix=endpoint.check)

    def _refused(self, result: Mapping[str, Any], resource: str) -> AuthError:
        """The endpoint's own words, and the likely cause: no such identity here, mostly."""
        endpoint = self.identity.endpoint
        code = result.get("error") or "no token"
        text = _first_line(result.get("error_description") or "")
        said = f"{code}: {text}" if text else str(code)
        if code == "invalid_resource":
            return AuthError(f"{FAILED}: {endpoint.describe()} refused the resource {resource} "
                             f"({said})", fix="check graph-url (and auth-url's cloud)")
        ref = self.identity.ref
        if ref is not None:
            return AuthError(
                f"{FAILED}: {endpoint.describe()} does not know {ref.describe()} ({said})",
                fix="check managed-identity-id (client ID, object-id:<GUID> or resource ID) and "
                    "that this identity is assigned to the machine or app the runner runs on")
        return AuthError(
            f"{FAILED}: {endpoint.describe()} has no system-assigned managed identity for "
            f"this machine ({said})",
            fix="turn on the system-assigned identity of the VM or app (Identity > System "
                "assigned: On, or `az vm identity assign`), or name a user-assigned one in "
                "managed-identity-id")


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0][:300] if text else ""


class ManagedIdentityTokens(TokenProvider):
    """Graph tokens of the identity itself (credential managed-identity)."""

    def _start(self, http: httpx.Client, retry: RetryPolicy) -> None:
        identity = self.credential.identity
        assert identity is not None  # managed_credential gives one
        self._tokens = IdentityTokens(identity, http, self._reporter, retry)

    def _acquire(self, force_refresh: bool) -> Mapping[str, Any]:
        if force_refresh:
            self._tokens.forget()
        # A managed identity asks for a resource, not a scope: Graph's own URL.
        return {"access_token": self._tokens.acquire(self._settings.graph_url)}


class ManagedIdentityAssertion(FederatedToken):
    """The identity's token for the token-exchange audience, as an app's client assertion
    (an app registration whose federated credential names the identity: issuer
    ``https://login.microsoftonline.com/{tenant}/v2.0``, subject its object ID)."""

    def __init__(self, tokens: IdentityTokens, audience: str, reporter: Reporter) -> None:
        super().__init__(reporter)
        self.label = tokens.identity.label
        self._tokens, self._audience = tokens, audience

    def _fetch(self) -> str:
        return self._tokens.acquire(self._audience)


def managed_credential(settings: Settings, http: httpx.Client, reporter: Reporter,
                       environ: Mapping[str, str],
                       retry: RetryPolicy = ENTRA_RETRY) -> ClientCredential:
    """The credential of ``managed-identity`` or ``managed-identity-federation``."""
    identity = ManagedIdentity(settings.managed_identity, identity_endpoint(environ))
    for variable in ENDPOINT_SECRETS:  # MSAL sends them; nothing of ours may print them
        if environ.get(variable, "").strip():
            reporter.mask(environ[variable].strip())
    where = f"from {identity.endpoint.name}"
    if settings.credential == MANAGED_IDENTITY:
        return ClientCredential(settings.credential, "", f"{identity.label} {where}",
                                identity=identity)
    source = ManagedIdentityAssertion(IdentityTokens(identity, http, reporter, retry),
                                      settings.federated_audience, reporter)
    return ClientCredential(
        settings.credential, {"client_assertion": source},
        f"{identity.label}'s token for {settings.federated_audience} {where} (federated "
        "credential)", source, identity)


def token_provider(settings: Settings, http: httpx.Client, reporter: Reporter,
                   credential: ClientCredential,
                   retry: RetryPolicy = ENTRA_RETRY) -> TokenProvider:
    """Graph tokens for ``credential``: the identity's own, or Entra's for an app."""
    kind = ManagedIdentityTokens if credential.kind == MANAGED_IDENTITY else TokenProvider
    return kind(settings, http, reporter, credential, retry)
