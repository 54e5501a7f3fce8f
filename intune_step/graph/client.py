"""The Graph client: authenticated JSON calls with retries, paging and error mapping."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

import httpx

from intune_step.auth.tokens import TokenProvider
from intune_step.errors import GraphError, PermissionDeniedError, ServiceError
from intune_step.report import Reporter
from intune_step.transport.attempts import (
    LastAnswer,
    may_have_arrived,
    request_id_note,
    send_with_retries,
)
from intune_step.transport.deadline import Deadline
from intune_step.transport.diagnose import diagnose
from intune_step.transport.http import safe_url
from intune_step.transport.retry import RETRY_STATUSES, RetryPolicy, retry_after
from intune_step.transport.throttle import ThrottleGate

# The answers whose Retry-After speaks for the tenant and app, not for the one call.
SHARED_WAIT_STATUSES = frozenset({429, 503})

REQUIRED_PERMISSION = "DeviceManagementApps.ReadWrite.All"


class GraphResult(dict[str, Any]):
    """A JSON object from Graph that remembers the request-id of the response it came in,
    so a later failure about it (a bad upload state) can name the request."""

    request_id: str | None = None


def _request_id(response: httpx.Response) -> str | None:
    found: str | None = (response.headers.get("request-id")
                         or response.headers.get("client-request-id"))
    return found


def graph_error(response: httpx.Response, what: str) -> GraphError:
    """Map a failed Graph response to our error, unwrapping Intune's nested JSON message."""
    code: str | None = None
    message = response.reason_phrase or "error"
    request_id = _request_id(response)
    try:
        body = response.json()
        error = body.get("error", {}) if isinstance(body, dict) else {}
    except ValueError:
        error = {}
    if error:
        code = error.get("code")
        message = str(error.get("message") or message)
        inner = error.get("innerError") or error.get("innererror") or {}
        request_id = request_id or inner.get("request-id")
        message = _unwrap_intune_message(message)
    text = f"{what} failed: HTTP {response.status_code}"
    if code:
        text += f" {code}"
    text += f": {message}"
    if response.status_code == 403:
        return PermissionDeniedError(
            text, status=403, code=code, request_id=request_id,
            fix=f"grant the application permission {REQUIRED_PERMISSION} to the app registration "
            "and click 'Grant admin consent' (Entra admin center > App registrations > "
            "API permissions)",
        )
    if response.status_code == 401:
        return GraphError(text, status=401, code=code, request_id=request_id,
                          fix="check that auth-url and graph-url belong to the same cloud")
    return GraphError(text, status=response.status_code, code=code, request_id=request_id)


def _unwrap_intune_message(message: str) -> str:
    """Intune puts a JSON document in error.message; its 'Message' is the useful part."""
    stripped = message.strip()
    if stripped.startswith("{"):
        try:
            nested = json.loads(stripped)
        except ValueError:
            return message
        if isinstance(nested, dict) and nested.get("Message"):
            message = str(nested["Message"])
    # Drop the long routing tail ("- Operation ID ... - Url: https://...").
    for marker in (" - Operation ID", " - Activity ID", " - Url:"):
        if marker in message:
            message = message.split(marker, 1)[0]
    return message.strip()


GRAPH_RETRY = RetryPolicy()  # 7 attempts, 1 s doubling to 60 s


class GraphClient:
    """JSON requests to ``{graph_url}/{version}/...`` with a fresh token on each.

    Every request first passes ``gate``, the run's throttle gate for this tenant and app
    (transport/throttle.py); a 429 or 503 with Retry-After closes it for every worker. Without
    one the client keeps its own, shared by its parallel calls.
    """

    def __init__(
        self,
        http: httpx.Client,
        graph_url: str,
        version: str,
        tokens: TokenProvider,
        reporter: Reporter,
        retry: RetryPolicy | None = None,
        gate: ThrottleGate | None = None,
    ) -> None:
        self._http = http
        self.base = f"{graph_url.rstrip('/')}/{version}"
        self._tokens = tokens
        self._reporter = reporter
        self._retry = retry or GRAPH_RETRY
        self.gate = gate or ThrottleGate("this tenant and app", sleep=self._retry.sleep)

    def url(self, path: str) -> str:
        """A path under the Graph base, or an absolute URL from a response (an
        @odata.nextLink): that one only on the Graph host itself, which the token is for."""
        if "://" not in path:
            return f"{self.base}/{path.lstrip('/')}"
        target, base = httpx.URL(path), httpx.URL(self.base)
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            raise ServiceError(
                f"Graph answered with a link to {safe_url(target)}, not to its own host "
                f"{base.host}; the step does not send its token there",
                fix="re-run the job; if it persists, check graph-url and any proxy in between")
        return path

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        what: str | None = None,
        retry_on_connection_reset: bool = True,
    ) -> dict[str, Any] | None:
        """Send one call, retrying throttling, 5xx and connection failures; JSON or None.

        Each retry is logged as a warning; after the last one the error says how many were made.
        """
        url = self.url(path)
        what = what or f"{method} {safe_url(url)}"
        content = None if json_body is None else json.dumps(json_body, ensure_ascii=False).encode()
        headers = {} if content is None else {"Content-Type": "application/json; charset=utf-8"}
        bearer = _Bearer(self._tokens, self._reporter, what)
        deadline = Deadline(self._retry.deadline)

        def send() -> httpx.Response:
            self.gate.wait()  # closed while Graph throttles this tenant and app
            return deadline.send(self._http, method, url, content=content, params=params,
                                 headers={**bearer.header(), **headers})

        outcome = send_with_retries(
            send,
            self._retry, what, warn=self._reporter.warning, detail=request_id_note("request-id"),
            # A read may meet a passing 500; reading again changes nothing on the service.
            statuses=RETRY_STATUSES | {500} if method == "GET" else RETRY_STATUSES,
            recover=bearer.sign_in_again, repeat_sent=retry_on_connection_reset,
            unreachable=partial(_unreachable, what, retry_on_connection_reset, deadline),
            deadline=deadline, hold=partial(self._hold, what))
        if outcome.response.is_error:
            raise _failure(outcome, what)
        return _json_result(outcome.response)

    def _hold(self, what: str, response: httpx.Response, delay: float, attempt: int) -> bool:
        """A 429/503 with Retry-After closes the shared gate; only the call that moved its
        opening later reports the wait."""
        if response.status_code not in SHARED_WAIT_STATUSES or retry_after(response) is None:
            return False
        if self.gate.close_for(delay):
            rid = response.headers.get("request-id")
            note = f" (request-id {rid})" if rid else ""
            self._reporter.warning(
                f"{what}: HTTP {response.status_code}{note}; retrying in {delay:.1f}s "
                f"(attempt {attempt} of {self._retry.attempts}); every request to "
                f"{self.gate.name} waits until then")
        return True

    def get(self, path: str, params: Mapping[str, str] | None = None,
            what: str | None = None) -> dict[str, Any]:
        return self.request("GET", path, params=params, what=what) or {}

    def post(self, path: str, body: Mapping[str, Any] | None = None, what: str | None = None,
             idempotent: bool = True) -> dict[str, Any] | None:
        return self.request("POST", path, json_body=body if body is not None else {}, what=what,
                            retry_on_connection_reset=idempotent)

    def patch(self, path: str, body: Mapping[str, Any], what: str | None = None) -> None:
        self.request("PATCH", path, json_body=body, what=what)

    def delete(self, path: str, what: str | None = None) -> None:
        self.request("DELETE", path, what=what)

    def get_all(self, path: str, params: Mapping[str, str] | None = None,
                what: str | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following @odata.nextLink."""
        page = self.get(path, params=params, what=what)
        while True:
            yield from page.get("value", [])
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            page = self.get(next_link, what=what)


class _Bearer:
    """The Authorization header for the tries of one request, and its one fresh sign-in."""

    def __init__(self, tokens: TokenProvider, reporter: Reporter, what: str) -> None:
        self._tokens, self._reporter, self._what = tokens, reporter, what
        self._refreshed = False

    def header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._tokens.token(force_refresh=self._refreshed)}"}

    def sign_in_again(self, response: httpx.Response) -> bool:
        """After a 401 the token may have expired early: sign in again and resend, once."""
        if response.status_code != 401 or self._refreshed:
            return False
        self._refreshed = True
        self._reporter.warning(f"{self._what}: HTTP 401 (the access token expired or was "
                               "revoked); signing in again")
        return True


def _unreachable(what: str, repeatable: bool, deadline: Deadline, error: Exception,
                 attempts: int) -> ServiceError:
    # A POST that may have reached the service is only retried when the caller says a
    # duplicate is harmless; a refused connection never reached it.
    unsafe = not repeatable and may_have_arrived(error)
    note = " (not repeated: it may have reached Graph)" if unsafe else ""
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    if isinstance(error, httpx.TimeoutException) and deadline.expired():
        return ServiceError(
            f"{what} stalled: no complete answer within {deadline.seconds:g} s "
            f"({type(error).__name__}, {tries}){note}",
            fix="Graph is slow or stuck on this call; re-run the step later "
                "(INTUNE_REQUEST_DEADLINE sets the limit)")
    problem = diagnose(error, "graph-url's host")
    if problem is None:  # pragma: no cover - only transport errors are retried here
        return ServiceError(f"{what} failed: {type(error).__name__} after {tries}{note}",
                            fix="check network access to graph-url; the run can be repeated")
    return ServiceError(f"{what} failed: {problem.sentence()}, {tries}{note}", fix=problem.fix)


def _failure(outcome: LastAnswer, what: str) -> GraphError:
    """The error for Graph's last answer; after a run of transient ones, how long we tried."""
    error = graph_error(outcome.response, what)
    if outcome.exhausted:
        error.message += f" (gave up after {outcome.attempts} attempts over {outcome.waited:.0f}s)"
        error.args = (error.message,)
        error.fix = error.fix or "Intune is throttling or unavailable; re-run the step later"
    return error


def _json_result(response: httpx.Response) -> GraphResult | None:
    """A JSON object that remembers its request-id; None for an empty or non-object body."""
    if not response.content:
        return None
    try:
        parsed = response.json()
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    result = GraphResult(parsed)
    result.request_id = _request_id(response)
    return result
