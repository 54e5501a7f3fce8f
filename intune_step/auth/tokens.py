"""Sign in with MSAL (client credentials) over our own httpx client."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import httpx
import msal

from intune_step.auth.credentials import ClientCredential, secret_credential
from intune_step.auth.oidc import describe_claims
from intune_step.config.clouds import cloud_for_login_host, known_login_hosts
from intune_step.config.settings import Settings
from intune_step.errors import AuthError, ServiceError
from intune_step.report import Reporter
from intune_step.transport.attempts import (
    THROTTLED_OR_5XX,
    Send,
    request_id_note,
    send_with_retries,
)
from intune_step.transport.deadline import Deadline
from intune_step.transport.diagnose import diagnose
from intune_step.transport.retry import RetryPolicy

ENTRA_RETRY = RetryPolicy(attempts=5, max_delay=30.0)


class MsalHttpClient:
    """The requests-like surface MSAL calls, carried by httpx.

    MSAL passes a signed client assertion as bytes inside form data; httpx would post the
    literal ``b'...'`` text (Entra then answers AADSTS50027), so form values become text.
    """

    def __init__(self, client: httpx.Client, reporter: Reporter | None = None,
                 retry: RetryPolicy | None = None) -> None:
        self._client = client
        self._reporter = reporter
        self._retry = retry or ENTRA_RETRY

    @staticmethod
    def _text_form(data: Any) -> Any:
        if isinstance(data, Mapping):
            return {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
        return data

    # What the retry loop calls transient, and its timeouts (None: the client's own).
    statuses: frozenset[int] = THROTTLED_OR_5XX
    timeout: httpx.Timeout | None = None
    what = "sign-in"

    def post(self, url: str, params: Any = None, data: Any = None, headers: Any = None,
             **kwargs: Any) -> httpx.Response:
        self._check_url(url)
        deadline = Deadline(self._retry.deadline)
        return self._retrying(lambda: deadline.send(
            self._client, "POST", url, self.timeout, params=params, data=self._text_form(data),
            headers=headers), deadline)

    def get(self, url: str, params: Any = None, headers: Any = None,
            **kwargs: Any) -> httpx.Response:
        self._check_url(url)
        deadline = Deadline(self._retry.deadline)
        return self._retrying(lambda: deadline.send(
            self._client, "GET", url, self.timeout, params=params, headers=headers), deadline)

    def _check_url(self, url: str) -> None:
        """Refuse a URL this client must not send to (the login host's comes from settings)."""

    def _retrying(self, send: Send, deadline: Deadline) -> httpx.Response:
        """Retry 429 and 5xx here, below MSAL: MSAL would replay a cached failure until its
        Retry-After, and would report a final one as a credential problem or an exception.
        Entra throttling or down is a service failure (exit 3), never bad input.
        Connection errors go up untouched: MSAL's caller words them."""
        outcome = send_with_retries(
            send, self._retry, self.what,
            warn=self._reporter.warning if self._reporter is not None else None,
            statuses=self.statuses, detail=request_id_note("x-ms-request-id"), errors=(),
            deadline=deadline)
        if outcome.exhausted:
            raise self._exhausted(outcome.response, outcome.attempts)
        return outcome.response

    def _exhausted(self, response: httpx.Response, attempts: int) -> ServiceError:
        return ServiceError(
            f"sign-in failed: the login host answered HTTP {response.status_code} "
            f"(gave up after {attempts} attempts)",
            request_id=response.headers.get("x-ms-request-id"),
            fix="Entra is throttling or unavailable; re-run the step later")

    def close(self) -> None:  # the client belongs to the caller
        pass


# AADSTS code -> (what it means, what to do)
ENTRA_ERRORS: dict[int, tuple[str, str]] = {
    7000215: ("Entra refused the client secret",
              "use the secret's Value (not its Secret ID) and check it has not been replaced"),
    7000222: ("the client secret has expired",
              "create a new secret in the app registration and update the CI secret"),
    700016: ("Entra knows no application with this client-id in the tenant",
             "check client-id and that auth-url names the tenant where the app is registered"),
    90002: ("Entra knows no such tenant",
            "check the tenant ID or domain in auth-url"),
    900023: ("the tenant in auth-url is not a valid tenant ID or domain",
             "check the tenant ID or domain in auth-url"),
    65001: ("an administrator has not consented to the app's permissions",
            "grant admin consent for DeviceManagementApps.ReadWrite.All in the app registration"),
    70011: ("Entra refused the requested scope",
            "check graph-url: the scope is <graph-url>/.default"),
    500011: ("the Graph resource is not known in this tenant",
             "check graph-url matches the cloud of auth-url"),
    50027: ("Entra refused the client assertion (invalid JWT)",
            "check the certificate or federated token given"),
    700027: ("Entra could not verify the client assertion signature",
             "upload the certificate to the app registration, or check the thumbprint"),
    700024: ("the client assertion is outside its valid time range",
             "check the runner clock; a federated token may have expired"),
    70021: ("no federated credential on the app registration matches this token",
            "add one with exactly this issuer and subject (Certificates & secrets > Federated "
            "credentials)"),
    700211: ("no federated credential on the app registration has this token's issuer",
             "add a federated credential with this issuer"),
    700212: ("no federated credential on the app registration has this token's audience",
             "use audience api://AzureADTokenExchange (or the cloud's variant) on both sides"),
    700213: ("no federated credential on the app registration has this token's subject",
             "add a federated credential with exactly this subject"),
}
# The usual fix when Entra's answer names no code we know, per credential.
GENERIC_FIX = {
    "secret": "check client-id, client-secret and auth-url",
    "certificate": "check client-id, auth-url and that this certificate is uploaded to the app "
                   "registration",
}
FEDERATED_FIX = "check client-id, auth-url and the app registration's federated credentials"


def explain_entra_error(result: Mapping[str, Any],
                        credential: ClientCredential | None = None) -> AuthError:
    codes = result.get("error_codes") or []
    description = str(result.get("error_description") or result.get("error") or "unknown error")
    first_line = description.splitlines()[0] if description else ""
    # What a federated credential must match is the first thing to know when none does.
    token = credential.federated if credential else None
    seen = f" [token: {describe_claims(token.claims)}]" if token and token.claims else ""
    for code in codes:
        if code in ENTRA_ERRORS:
            meaning, fix = ENTRA_ERRORS[code]
            return AuthError(f"sign-in failed: {meaning} (AADSTS{code}){seen}", fix=fix,
                             request_id=result.get("correlation_id"))
    kind = credential.kind if credential else "secret"
    return AuthError(f"sign-in failed: {first_line}{seen}",
                     fix=GENERIC_FIX.get(kind, FEDERATED_FIX),
                     request_id=result.get("correlation_id"))


class TokenProvider:
    """Hands out a valid Graph access token; MSAL caches it and renews it near expiry."""

    def __init__(self, settings: Settings, http: httpx.Client, reporter: Reporter,
                 credential: ClientCredential | None = None,
                 retry: RetryPolicy = ENTRA_RETRY) -> None:
        self._settings = settings
        self._reporter = reporter
        self._lock = threading.Lock()
        self.credential = credential or secret_credential(settings)
        self._start(http, retry)

    def _start(self, http: httpx.Client, retry: RetryPolicy) -> None:
        """Build the MSAL application that hands out the tokens."""
        settings = self._settings
        try:
            self._app = msal.ConfidentialClientApplication(
                settings.client_id,
                client_credential=self.credential.msal,
                authority=settings.authority,
                http_client=MsalHttpClient(http, self._reporter, retry),
                # Known Microsoft hosts need no discovery; other hosts must not be sent to
                # login.microsoftonline.com for it.
                instance_discovery=False,
            )
        except ValueError as exc:  # tenant discovery failed (MSAL raises ValueError)
            raise AuthError(
                f"sign-in failed: {settings.authority} did not answer as an Entra authority "
                f"({str(exc).splitlines()[0][:200]})",
                fix="check the tenant and host in auth-url",
            ) from exc
        except httpx.HTTPError as exc:
            raise unreachable_login_host(exc, settings) from exc

    def token(self, force_refresh: bool = False) -> str:
        with self._lock:
            result = self._acquire(force_refresh)
        if "access_token" not in result:
            raise self._refused(result)
        token = str(result["access_token"])
        self._reporter.mask(token)
        return token

    def _acquire(self, force_refresh: bool) -> Mapping[str, Any]:
        """MSAL's answer: from its cache, or a new token request."""
        if force_refresh:
            self._app.remove_tokens_for_client()
        try:
            result: Mapping[str, Any] = self._app.acquire_token_for_client(
                scopes=[self._settings.scope])
        except httpx.HTTPError as exc:
            raise unreachable_login_host(exc, self._settings) from exc
        except ValueError as exc:
            raise AuthError(f"sign-in failed: {str(exc).splitlines()[0][:200]}",
                            fix="check the tenant and host in auth-url") from exc
        return result

    def _refused(self, result: Mapping[str, Any]) -> AuthError:
        return explain_entra_error(result, self.credential)


def unreachable_login_host(error: httpx.HTTPError, settings: Settings) -> ServiceError:
    """Sign-in could not talk to the login host: which host, why, and what to do.

    A host that belongs to no Microsoft cloud and does not resolve is most often a typo in
    auth-url: then the fix lists the hosts of each cloud.
    """
    host = httpx.URL(settings.authority).host
    problem = diagnose(error, host)
    if problem is None:  # pragma: no cover - MSAL's transport raises only transport errors
        return ServiceError(f"sign-in failed: cannot reach {host}: {type(error).__name__}",
                            fix="check network access to the login host")
    cause, fix = problem.sentence(), problem.fix
    if cloud_for_login_host(host) is None:
        cause += f"; {host} is not a known Entra login host"
        if problem.cause == "DNS lookup failed":
            fix = f"check the host in auth-url ({known_login_hosts()})"
    return ServiceError(f"sign-in failed: {cause}", fix=fix)
