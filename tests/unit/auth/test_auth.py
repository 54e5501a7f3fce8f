"""The token exchange as Entra sees it, and Entra's errors as a user reads them."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from pytest_httpx import HTTPXMock

from intune_step.auth.credentials import ClientCredential
from intune_step.auth.tokens import MsalHttpClient, TokenProvider
from intune_step.config.settings import Settings, build_settings
from intune_step.errors import AuthError
from intune_step.report import RecordingReporter
from intune_step.transport.http import make_client

from ..conftest import LOGIN, SECRET, TOKEN, add_discovery, add_token


def test_client_credentials_request_and_mask(httpx_mock: HTTPXMock, settings: Settings) -> None:
    add_discovery(httpx_mock)
    add_token(httpx_mock)
    reporter = RecordingReporter()
    with make_client() as http:
        token = TokenProvider(settings, http, reporter).token()
    assert token == TOKEN
    assert TOKEN in reporter.masked
    post = next(r for r in httpx_mock.get_requests() if r.method == "POST")
    form = parse_qs(post.content.decode())
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_id"] == [settings.client_id]
    assert form["client_secret"] == [SECRET]
    assert form["scope"] == ["https://graph.microsoft.com/.default"]
    assert post.headers["User-Agent"].startswith("intune-step/")


def test_token_is_cached_between_calls(httpx_mock: HTTPXMock, settings: Settings) -> None:
    add_discovery(httpx_mock)
    add_token(httpx_mock, reusable=False)
    with make_client() as http:
        provider = TokenProvider(settings, http, RecordingReporter())
        assert provider.token() == provider.token() == TOKEN
    assert sum(r.method == "POST" for r in httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(
    ("code", "meaning", "fix"),
    [
        (7000215, "refused the client secret", "Value (not its Secret ID)"),
        (700016, "no application with this client-id", "check client-id"),
        (90002, "no such tenant", "tenant ID or domain"),
        (65001, "not consented", "admin consent"),
    ],
)
def test_entra_errors_become_clear_messages(
    httpx_mock: HTTPXMock, settings: Settings, code: int, meaning: str, fix: str
) -> None:
    add_discovery(httpx_mock)
    httpx_mock.add_response(
        method="POST", url=f"{LOGIN}/oauth2/v2.0/token", status_code=401,
        json={"error": "invalid_client", "error_description": f"AADSTS{code}: Something.\r\n"
              "Trace ID: t\r\nCorrelation ID: c", "error_codes": [code],
              "correlation_id": "corr-1"},
    )
    with make_client() as http, pytest.raises(AuthError) as caught:
        TokenProvider(settings, http, RecordingReporter()).token()
    line = caught.value.one_line()
    assert meaning in line and fix in line and f"AADSTS{code}" in line
    assert SECRET not in line


def test_unknown_authority_fails_before_any_token_request(
    httpx_mock: HTTPXMock, settings: Settings
) -> None:
    httpx_mock.add_response(method="GET", url=f"{LOGIN}/v2.0/.well-known/openid-configuration",
                            status_code=400, json={"error": "invalid_tenant"})
    with make_client() as http, pytest.raises(AuthError, match="did not answer as an Entra"):
        TokenProvider(settings, http, RecordingReporter())


def test_assertion_bytes_are_posted_as_text(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url="https://login.example/t/token", json={})
    with make_client() as http:
        MsalHttpClient(http).post("https://login.example/t/token",
                                  data={"client_assertion": b"eyJhbGciOi.x.y"})
    body = httpx_mock.get_requests()[0].content.decode()
    assert "client_assertion=eyJhbGciOi.x.y" in body
    assert "b%27" not in body


def test_unknown_entra_errors_get_the_fix_of_the_credential_in_use(
    httpx_mock: HTTPXMock,
) -> None:
    add_discovery(httpx_mock)
    httpx_mock.add_response(
        method="POST", url=f"{LOGIN}/oauth2/v2.0/token", status_code=401,
        json={"error": "invalid_client", "error_codes": [1234567],
              "error_description": "AADSTS1234567: Something new.\r\nTrace ID: t"})
    settings = build_settings({"client-id": "11111111-2222-3333-4444-555555555555",
                               "auth-url": f"{LOGIN}/oauth2/v2.0/token",
                               "certificate-file": "c.pem"})
    credential = ClientCredential("certificate", {"client_assertion": lambda: "a.b.c"}, "cert")
    with make_client() as http, pytest.raises(AuthError) as caught:
        TokenProvider(settings, http, RecordingReporter(), credential).token()
    line = caught.value.one_line()
    assert "AADSTS1234567: Something new." in line
    assert "this certificate is uploaded to the app registration" in line
    assert "client-secret" not in line
