"""Federated tokens (workload identity federation): a JWT from the CI, no secret at all.

Each source is a zero-argument callable MSAL invokes on every token request (verified in MSAL
1.39 ``oauth2cli/oauth2.py`` ``_obtain_token``), so a short-lived CI token is fetched afresh
whenever MSAL needs a new access token, never cached by us. Every token is masked before
anything could print it; only its issuer, subject and audience are logged, which is exactly
what a federated credential on the app registration must match.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from intune_step.errors import AuthError, ServiceError, SettingsError
from intune_step.report import Reporter
from intune_step.transport.attempts import THROTTLED_OR_5XX, Send, send_with_retries
from intune_step.transport.diagnose import diagnose
from intune_step.transport.http import safe_url
from intune_step.transport.retry import RetryPolicy

GITHUB_FIX = ("add `permissions: {id-token: write, contents: read}` to the job (or the "
              "workflow) in the workflow file; pull requests from forks never get a token")
AZURE_FIX = "add `env: {SYSTEM_ACCESSTOKEN: $(System.AccessToken)}` to the step in the pipeline"
# Azure DevOps issues a connection's token only to a stage/job that references the connection
# in a task (dotnet/docker-tools#2012, #2013; docs/ci-hosts.md has the recipe).
AZURE_REFERENCE_FIX = ("reference the service connection from a task in this job, e.g. an "
                       "`AzureCLI@2` step with `azureSubscription: <connection name>` before this "
                       "step (docs/ci-hosts.md), and authorise the pipeline to use it")
ADO_API_VERSION = "7.1"
FETCH_RETRY = RetryPolicy(attempts=3, base_delay=1.0, max_delay=8.0)


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a compact JWT, unverified (Entra verifies it); None if it is not one."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


class FederatedToken:
    """Base of every source: mask, check the shape and expiry, describe once."""

    label = "a federated token"

    def __init__(self, reporter: Reporter) -> None:
        self._reporter = reporter
        self.claims: dict[str, Any] = {}

    def _fetch(self) -> str:
        raise NotImplementedError

    def __call__(self) -> str:
        token = self._fetch().strip()
        self._reporter.mask(token)
        claims = jwt_claims(token)
        if claims is None:
            raise SettingsError(f"{self.label} is not a JWT", fix="hand over the OIDC ID "
                                "token itself (three dot-separated parts)")
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp < time.time():
            raise SettingsError(
                f"{self.label} expired at {time.strftime('%H:%M:%S UTC', time.gmtime(exp))}",
                fix="hand over a fresh token (CI tokens live only as long as the job)")
        if not self.claims:
            self._reporter.info(f"Federated token from {self.label}: {describe_claims(claims)}")
        self.claims = claims
        return token


def describe_claims(claims: Mapping[str, Any]) -> str:
    aud = claims.get("aud")
    audience = ", ".join(aud) if isinstance(aud, list) else aud
    return f"issuer {claims.get('iss')}, subject {claims.get('sub')}, audience {audience}"


class GitHubOidc(FederatedToken):
    """The job's ID token from the runner (needs `permissions: id-token: write`)."""

    label = "GitHub Actions"

    def __init__(self, http: httpx.Client, environ: Mapping[str, str], audience: str,
                 reporter: Reporter, retry: RetryPolicy = FETCH_RETRY) -> None:
        super().__init__(reporter)
        url = environ.get("ACTIONS_ID_TOKEN_REQUEST_URL", "").strip()
        request_token = environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "").strip()
        if not url or not request_token:
            if environ.get("GITHUB_ACTIONS") != "true":
                raise SettingsError(
                    "credential github-oidc works only in a GitHub Actions job "
                    "(ACTIONS_ID_TOKEN_REQUEST_URL is not set)",
                    fix="run in GitHub Actions, or choose another credential")
            raise SettingsError(
                "GitHub gave this job no OIDC token: the job lacks `permissions: id-token: write`",
                fix=GITHUB_FIX)
        reporter.mask(request_token)
        self._http, self._url, self._audience, self._retry = http, url, audience, retry
        self._request_token = request_token

    def _fetch(self) -> str:
        # The URL already has a query (api-version): `audience` joins it. httpx's params=
        # would replace it instead.
        url = httpx.URL(self._url).copy_merge_params({"audience": self._audience})
        response = _send(self._retry, "GitHub's OIDC token endpoint", lambda: (
            self._http.get(url,
                           headers={"Authorization": f"Bearer {self._request_token}",
                                    "Accept": "application/json"})))
        if response.status_code in (401, 403):
            raise AuthError(
                f"GitHub's OIDC token endpoint refused the request ({response.status_code})",
                fix=GITHUB_FIX)
        return _json_field(response, "value", "GitHub's OIDC token endpoint")


class AzureDevOpsOidc(FederatedToken):
    """The OIDC token of an Azure DevOps service connection (workload identity federation)."""

    label = "Azure DevOps"

    def __init__(self, http: httpx.Client, environ: Mapping[str, str],
                 service_connection_id: str, reporter: Reporter,
                 retry: RetryPolicy = FETCH_RETRY) -> None:
        super().__init__(reporter)
        url = environ.get("SYSTEM_OIDCREQUESTURI", "").strip()
        access_token = environ.get("SYSTEM_ACCESSTOKEN", "").strip()
        if not url:
            raise SettingsError(
                "credential azure-devops-oidc works only in Azure Pipelines "
                "(SYSTEM_OIDCREQUESTURI is not set)",
                fix="run in Azure Pipelines, or choose another credential")
        if not access_token:
            raise SettingsError(
                "SYSTEM_ACCESSTOKEN is not set: Azure Pipelines hands System.AccessToken to a "
                "step only when the step maps it", fix=AZURE_FIX)
        reporter.mask(access_token)
        self._http, self._url, self._retry = http, url, retry
        self._connection, self._access_token = service_connection_id, access_token

    def _fetch(self) -> str:
        url = httpx.URL(self._url).copy_merge_params(
            {"api-version": ADO_API_VERSION, "serviceConnectionId": self._connection})
        response = _send(self._retry, "the Azure DevOps OIDC endpoint", lambda: (
            self._http.post(url,
                            headers={"Authorization": f"Bearer {self._access_token}",
                                     "Content-Type": "application/json",
                                     "Accept": "application/json"})),
            explain=azure_devops_message)
        said = azure_devops_message(response)
        says = f": {said}" if said else ""
        if response.status_code in (401, 403):
            raise AuthError(
                f"Azure DevOps refused the OIDC token request ({response.status_code}){says}",
                fix=AZURE_FIX + ", and allow the pipeline to use the service connection")
        if response.status_code in (400, 404):
            raise SettingsError(
                f"Azure DevOps refused a token for service connection {self._connection} "
                f"({response.status_code}){says}",
                fix="set service-connection-id to the ID of a workload identity federation "
                    "service connection (Project settings > Service connections)")
        if response.status_code == 200 and not _has_field(response, "oidcToken") and said:
            # 200 without a token: Azure DevOps explains itself in `value`, e.g. "There is no
            # explicit reference to service connection ... from current stage ...".
            raise AuthError(f"Azure DevOps issued no OIDC token: {said}", fix=AZURE_REFERENCE_FIX)
        if response.status_code != 200 and said:
            raise ServiceError(f"the Azure DevOps OIDC endpoint answered "
                               f"{response.status_code}: {said}", fix=AZURE_REFERENCE_FIX)
        return _json_field(response, "oidcToken", "the Azure DevOps OIDC endpoint")


class EnvToken(FederatedToken):
    """A token in an environment variable, e.g. a GitLab CI `id_tokens` variable."""

    def __init__(self, name: str, environ: Mapping[str, str], reporter: Reporter) -> None:
        super().__init__(reporter)
        self.label = f"${name}"
        self._name, self._environ = name, environ
        if environ.get(name, "").strip():
            reporter.mask(environ[name].strip())  # it exists already: mask it now
        else:
            fix = (f"declare it in the job: `id_tokens: {{{name}: {{aud: "
                   "api://AzureADTokenExchange}}`" if environ.get("GITLAB_CI")
                   else f"set {name} to the OIDC token")
            raise SettingsError(f"federated-token-env names {name}, which is not set", fix=fix)

    def _fetch(self) -> str:
        return self._environ.get(self._name, "")


class FileToken(FederatedToken):
    """A token in a file, read again for every token request (files like Kubernetes'
    projected tokens are rotated in place)."""

    def __init__(self, path: Path, reporter: Reporter) -> None:
        super().__init__(reporter)
        self.label = f"file {path}"
        self._path = path
        if not path.is_file():
            raise SettingsError(f"federated-token-file {path} does not exist",
                                fix="write the OIDC token to that file before this step runs")

    def _fetch(self) -> str:
        try:
            return self._path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"cannot read federated-token-file {self._path}: "
                                f"{type(exc).__name__}", fix="check the file") from None


def _send(retry: RetryPolicy, what: str, request: Send,
          explain: Callable[[httpx.Response], str] | None = None) -> httpx.Response:
    """Transient failures (connection, 429, 5xx) are tried again a few times, silently; the
    last answer's own words (``explain``) end the error when it still fails."""
    outcome = send_with_retries(request, retry, what, statuses=THROTTLED_OR_5XX,
                                errors=(httpx.HTTPError,), unreachable=partial(_unreachable, what))
    if outcome.exhausted:
        said = explain(outcome.response) if explain is not None else ""
        raise ServiceError(f"{what} answered {outcome.response.status_code} "
                           f"({safe_url(outcome.response.request.url)})"
                           + (f": {said}" if said else ""),
                           fix="re-run the job; the CI's token service may be down")
    return outcome.response


def _unreachable(what: str, error: Exception, attempts: int) -> ServiceError:
    problem = diagnose(error, what)
    if problem is None:
        return ServiceError(f"cannot reach {what}: {type(error).__name__}",
                            fix="check network access from the runner")
    return ServiceError(f"cannot reach {what}: {problem.sentence()}", fix=problem.fix)


def azure_devops_message(response: httpx.Response, limit: int = 300) -> str:
    """What Azure DevOps said: its error ``message``, the ``value`` text of a token answer
    without a token, or the start of a plain-text body; "" when it said nothing readable."""
    try:
        body = response.json()
    except ValueError:
        body = None
    text = ""
    if isinstance(body, dict):
        for key in ("message", "value"):
            if isinstance(body.get(key), str) and body[key].strip():
                text = body[key]
                break
    elif not response.headers.get("content-type", "").startswith("application/json"):
        text = response.text
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


def _has_field(response: httpx.Response, name: str) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get(name), str) and bool(body[name])


def _json_field(response: httpx.Response, name: str, what: str) -> str:
    if response.status_code != 200:
        raise ServiceError(f"{what} answered {response.status_code}",
                           fix="re-run the job; check the CI's OIDC settings")
    try:
        value = response.json().get(name)
    except (ValueError, AttributeError):
        value = None
    if not isinstance(value, str) or not value:
        raise ServiceError(f"{what} answered without a token ('{name}' is missing)",
                           fix="re-run the job; check the CI's OIDC settings")
    return value
