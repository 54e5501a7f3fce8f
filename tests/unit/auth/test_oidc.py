"""Federated token sources: what each CI's token endpoint is sent, and what goes wrong."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from pytest_httpx import HTTPXMock

from intune_step.auth.oidc import AzureDevOpsOidc, EnvToken, FileToken, GitHubOidc
from intune_step.errors import AuthError, ServiceError, SettingsError
from intune_step.report import RecordingReporter
from intune_step.transport.http import make_client
from intune_step.transport.retry import RetryPolicy

from ...certs import fake_jwt, github_claims

GITHUB_URL = ("https://pipelines.actions.githubusercontent.com/abc/_apis/distributedtask/hubs/"
              "Actions/plans/p1/jobs/j1/idtoken?api-version=2.0")
GITHUB_ENV = {"GITHUB_ACTIONS": "true", "ACTIONS_ID_TOKEN_REQUEST_URL": GITHUB_URL,
              "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-request-token"}
ADO_URL = "https://dev.azure.com/contoso/0000/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken"
CONNECTION = "dddddddd-2222-3333-4444-555555555555"
SUBJECT = "repo:contoso/app:ref:refs/heads/main"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_github_request_keeps_the_query_adds_the_audience_and_masks(
        httpx_mock: HTTPXMock) -> None:
    jwt = fake_jwt(github_claims(SUBJECT, "api://AzureADTokenExchangeUSGov"))
    httpx_mock.add_response(json={"count": 1, "value": jwt})
    reporter = RecordingReporter()
    with make_client() as http:
        source = GitHubOidc(http, GITHUB_ENV, "api://AzureADTokenExchangeUSGov", reporter)
        assert source() == jwt
    request = httpx_mock.get_requests()[0]
    assert request.method == "GET"
    assert request.url.params["api-version"] == "2.0"
    assert request.url.params["audience"] == "api://AzureADTokenExchangeUSGov"
    assert request.headers["Authorization"] == "Bearer runner-request-token"
    assert "runner-request-token" in reporter.masked and jwt in reporter.masked
    # Issuer and subject are what the app registration's federated credential must match.
    assert reporter.lines == [
        f"Federated token from GitHub Actions: issuer https://token.actions.githubusercontent.com"
        f", subject {SUBJECT}, audience api://AzureADTokenExchangeUSGov"]


def test_github_without_id_token_permission_shows_the_yaml_to_add() -> None:
    with make_client() as http, pytest.raises(SettingsError) as caught:
        GitHubOidc(http, {"GITHUB_ACTIONS": "true"}, "api://AzureADTokenExchange",
                   RecordingReporter())
    line = caught.value.one_line()
    assert "lacks `permissions: id-token: write`" in line
    assert "add `permissions: {id-token: write, contents: read}` to the job" in line
    with make_client() as http, pytest.raises(SettingsError, match="only in a GitHub Actions"):
        GitHubOidc(http, {}, "api://AzureADTokenExchange", RecordingReporter())


def test_github_transient_failures_are_retried_then_reported(httpx_mock: HTTPXMock) -> None:
    jwt = fake_jwt(github_claims(SUBJECT))
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_exception(httpx.ConnectError("reset"))
    httpx_mock.add_response(json={"value": jwt})
    sleeps = Sleeps()
    retry = RetryPolicy(attempts=3, sleep=sleeps, jitter=lambda lo, hi: hi)
    with make_client() as http:
        assert GitHubOidc(http, GITHUB_ENV, "aud", RecordingReporter(), retry)() == jwt
        assert len(sleeps) == 2
        httpx_mock.add_response(status_code=500, is_reusable=True)
        with pytest.raises(ServiceError, match="answered 500") as caught:
            GitHubOidc(http, GITHUB_ENV, "aud", RecordingReporter(), retry)()
    assert "runner-request-token" not in caught.value.one_line()
    assert "?" not in caught.value.one_line()  # no query string in messages


def test_github_refusal_is_explained(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=403, json={"message": "no"})
    with make_client() as http, pytest.raises(AuthError, match="refused the request"):
        GitHubOidc(http, GITHUB_ENV, "aud", RecordingReporter())()


def test_azure_devops_request(httpx_mock: HTTPXMock) -> None:
    jwt = fake_jwt({"iss": "https://vstoken.dev.azure.com/org-id", "aud": "api://AzureADTokenExchange",
                    "sub": "sc://contoso/app/intune", "exp": int(time.time()) + 600})
    httpx_mock.add_response(json={"oidcToken": jwt})
    env = {"SYSTEM_OIDCREQUESTURI": ADO_URL, "SYSTEM_ACCESSTOKEN": "ado-access-token"}
    reporter = RecordingReporter()
    with make_client() as http:
        assert AzureDevOpsOidc(http, env, CONNECTION, reporter)() == jwt
    request = httpx_mock.get_requests()[0]
    assert request.method == "POST"
    assert str(request.url).split("?")[0] == ADO_URL
    assert dict(request.url.params) == {"api-version": "7.1", "serviceConnectionId": CONNECTION}
    assert request.headers["Authorization"] == "Bearer ado-access-token"
    assert {"ado-access-token", jwt} <= set(reporter.masked)


def test_azure_devops_needs_the_mapped_access_token(httpx_mock: HTTPXMock) -> None:
    with make_client() as http:
        with pytest.raises(SettingsError) as caught:
            AzureDevOpsOidc(http, {"SYSTEM_OIDCREQUESTURI": ADO_URL}, CONNECTION,
                            RecordingReporter())
        assert "env: {SYSTEM_ACCESSTOKEN: $(System.AccessToken)}" in caught.value.one_line()
        with pytest.raises(SettingsError, match="only in Azure Pipelines"):
            AzureDevOpsOidc(http, {}, CONNECTION, RecordingReporter())
        httpx_mock.add_response(status_code=404)
        env = {"SYSTEM_OIDCREQUESTURI": ADO_URL, "SYSTEM_ACCESSTOKEN": "t" * 20}
        with pytest.raises(SettingsError, match=f"a token for service connection {CONNECTION}"):
            AzureDevOpsOidc(http, env, CONNECTION, RecordingReporter())()


def test_azure_devops_own_words_when_it_issues_no_token(httpx_mock: HTTPXMock) -> None:
    """Since 2026-03 Azure DevOps answers 200 without a token when no task of the stage
    references the connection (dotnet/docker-tools#2012, the body quoted from there)."""
    said = (f"There is no explicit reference to service connection {CONNECTION} from current "
            "stage Publish.publish.__default.")
    httpx_mock.add_response(json={"count": 151, "value": said})
    env = {"SYSTEM_OIDCREQUESTURI": ADO_URL, "SYSTEM_ACCESSTOKEN": "t" * 20}
    with make_client() as http, pytest.raises(AuthError) as caught:
        AzureDevOpsOidc(http, env, CONNECTION, RecordingReporter())()
    line = caught.value.one_line()
    assert said in line and "AzureCLI@2" in line and "re-run" not in line


def test_azure_devops_error_message_is_shown(httpx_mock: HTTPXMock) -> None:
    body = {"$id": "1", "message": "The pipeline is not authorized to use this connection.",
            "typeName": "Microsoft.TeamFoundation.DistributedTask.WebApi.AccessDeniedException"}
    httpx_mock.add_response(status_code=403, json=body)
    env = {"SYSTEM_OIDCREQUESTURI": ADO_URL, "SYSTEM_ACCESSTOKEN": "t" * 20}
    with make_client() as http, pytest.raises(AuthError) as caught:
        AzureDevOpsOidc(http, env, CONNECTION, RecordingReporter())()
    assert "(403): The pipeline is not authorized to use this connection." in str(caught.value)


def test_env_token_and_gitlab_hint() -> None:
    jwt = fake_jwt(github_claims("project_path:group/app:ref_type:branch:ref:main"))
    reporter = RecordingReporter()
    assert EnvToken("AZURE_FEDERATED_TOKEN", {"AZURE_FEDERATED_TOKEN": jwt}, reporter)() == jwt
    assert jwt in reporter.masked
    with pytest.raises(SettingsError) as caught:
        EnvToken("AZURE_FEDERATED_TOKEN", {"GITLAB_CI": "true"}, RecordingReporter())
    assert ("`id_tokens: {AZURE_FEDERATED_TOKEN: {aud: api://AzureADTokenExchange}}`"
            in caught.value.one_line())


def test_file_token_is_read_again_for_every_request(tmp_path: Path) -> None:
    path = tmp_path / "token.jwt"
    first, second = (fake_jwt(github_claims(SUBJECT)) for _ in range(2))
    path.write_text(first + "\n")
    source = FileToken(path, RecordingReporter())
    assert source() == first
    path.write_text(second)  # rotated in place, as projected service-account tokens are
    assert source() == second
    with pytest.raises(SettingsError, match="does not exist"):
        FileToken(tmp_path / "missing.jwt", RecordingReporter())


def test_expired_or_malformed_tokens_fail_before_entra(tmp_path: Path) -> None:
    path = tmp_path / "token.jwt"
    path.write_text(fake_jwt(github_claims(SUBJECT, lifetime=-60)))
    with pytest.raises(SettingsError, match="expired at"):
        FileToken(path, RecordingReporter())()
    path.write_text("not-a-jwt")
    reporter = RecordingReporter()
    with pytest.raises(SettingsError, match="is not a JWT"):
        FileToken(path, reporter)()
    assert "not-a-jwt" in reporter.masked  # masked even when it is rubbish
