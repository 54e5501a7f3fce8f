"""Managed identity sign-in: which endpoint (the same one MSAL picks), our transport's rules,
and the words of every failure."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from msal import managed_identity as msal_mi
from pytest_httpx import HTTPXMock

from intune_step.auth.guards import MissingPermissionError, TenantMismatchError, check_token
from intune_step.auth.identity_endpoints import (
    ManagedIdentity,
    identity_endpoint,
    plain_http_allowed,
)
from intune_step.auth.managed_identity import (
    CONNECT_TIMEOUT,
    IdentityHttp,
    IdentityTokens,
    managed_credential,
)
from intune_step.auth.signin import sign_in
from intune_step.config.credentials import IdentityRef
from intune_step.config.settings import build_settings
from intune_step.errors import AuthError, ServiceError, SettingsError
from intune_step.report import RecordingReporter
from intune_step.transport.http import make_client
from intune_step.transport.retry import RetryPolicy

from ...certs import fake_jwt

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
AUTH = f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
OID = "0d5b0c8e-0000-4000-8000-000000000001"
IMDS = "http://169.254.169.254/metadata/identity/oauth2/token"
VARIABLES = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT",
             "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET", "AZURE_POD_IDENTITY_AUTHORITY_HOST",
             "AZUREPS_HOST_ENVIRONMENT")
NO_WAIT = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0, sleep=lambda _: None)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """MSAL reads the process environment itself: nothing of this machine's may leak in."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


ENVIRONMENTS = [
    ({}, msal_mi.DEFAULT_TO_VM, "IMDS"),
    ({"AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:8080"}, msal_mi.DEFAULT_TO_VM,
     "IMDS"),
    ({"IDENTITY_ENDPOINT": "http://localhost:42356/msi/token", "IDENTITY_HEADER": "h"},
     msal_mi.APP_SERVICE, "App Service"),
    ({"IDENTITY_ENDPOINT": "https://10.0.0.4:2377/metadata/identity/oauth2/token",
      "IDENTITY_HEADER": "h", "IDENTITY_SERVER_THUMBPRINT": "ab" * 20},
     msal_mi.SERVICE_FABRIC, "Service Fabric"),
    ({"MSI_ENDPOINT": "http://127.0.0.1:46808/MSI/auth", "MSI_SECRET": "s"},
     msal_mi.MACHINE_LEARNING, "Machine Learning"),
    ({"IDENTITY_ENDPOINT": "http://localhost:40342/metadata/identity/oauth2/token",
      "IMDS_ENDPOINT": "http://localhost:40342"}, msal_mi.AZURE_ARC, "Arc"),
]


@pytest.mark.parametrize(("environ", "msal_source", "named"), ENVIRONMENTS)
def test_the_endpoint_is_the_one_msal_picks(monkeypatch: pytest.MonkeyPatch,
                                            environ: dict[str, str], msal_source: object,
                                            named: str) -> None:
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    assert msal_mi.get_managed_identity_source() is msal_source  # the installed MSAL agrees
    endpoint = identity_endpoint(environ, exists=lambda _: False)
    assert named in endpoint.name
    assert endpoint.url.startswith(environ.get("IDENTITY_ENDPOINT") or environ.get(
        "MSI_ENDPOINT") or environ.get("AZURE_POD_IDENTITY_AUTHORITY_HOST") or IMDS)
    assert endpoint.service_fabric == (named == "Service Fabric")


def test_an_installed_arc_agent_selects_its_endpoint() -> None:
    endpoint = identity_endpoint({}, exists=lambda path: path.endswith("himds"),
                                 platform="linux")
    assert endpoint.url == "http://localhost:40342/metadata/identity/oauth2/token"
    assert "himds" in endpoint.check


def test_cloud_shell_is_refused() -> None:
    with pytest.raises(SettingsError, match="Cloud Shell"):
        identity_endpoint({"AZUREPS_HOST_ENVIRONMENT": "cloud-shell/1.0"})


@pytest.mark.parametrize(("url", "allowed"), [
    ("http://169.254.169.254/metadata/identity/oauth2/token", True),
    ("http://localhost:42356/msi/token", True),
    ("http://127.0.0.1:41741/MSI/token/", True),
    ("http://[::1]:8080/x", True),
    ("http://169.254.169.253/metadata/identity/oauth2/token", False),
    ("http://10.1.1.1/metadata/identity/oauth2/token", False),
    ("http://identity.example/token", False),
])
def test_plain_http_only_to_imds_and_this_machine(url: str, allowed: bool) -> None:
    assert plain_http_allowed(httpx.URL(url)) is allowed


def identity(ref: IdentityRef | None = None, environ: dict[str, str] | None = None
             ) -> ManagedIdentity:
    return ManagedIdentity(ref, identity_endpoint(environ or {}, exists=lambda _: False))


def test_our_transport_refuses_plain_http_elsewhere() -> None:
    elsewhere = {"AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://10.1.1.1"}
    with make_client() as http:
        transport = IdentityHttp(http, identity(environ=elsewhere).endpoint)
        with pytest.raises(SettingsError, match="neither https nor on this machine"):
            transport.get("http://10.1.1.1/metadata/identity/oauth2/token")


def graph_token(**claims: object) -> str:
    return fake_jwt({"tid": TENANT, "oid": OID, "roles": ["DeviceManagementApps.ReadWrite.All"],
                     **claims})


def imds_answer(token: str) -> dict[str, str]:
    return {"access_token": token, "expires_in": "86399", "expires_on": "9999999999",
            "resource": "https://graph.microsoft.com", "token_type": "Bearer"}


def test_imds_is_asked_as_documented(httpx_mock: HTTPXMock) -> None:
    token = graph_token()
    httpx_mock.add_response(json=imds_answer(token))
    ref = IdentityRef("resource-id", "/subscriptions/x/resourceGroups/r/providers/"
                      "Microsoft.ManagedIdentity/userAssignedIdentities/i")
    with make_client() as http:
        tokens = IdentityTokens(identity(ref), http, RecordingReporter(), NO_WAIT)
        assert tokens.acquire("https://graph.microsoft.com") == token
        assert tokens.acquire("https://graph.microsoft.com") == token  # MSAL's cache
    request, = httpx_mock.get_requests()
    assert str(request.url).startswith(IMDS + "?")
    assert request.headers["Metadata"] == "true"
    assert request.url.params["msi_res_id"] == ref.value
    assert request.url.params["resource"] == "https://graph.microsoft.com"
    assert request.extensions["timeout"]["connect"] == CONNECT_TIMEOUT  # local: fail fast


def test_imds_updating_is_waited_for(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=410)
    httpx_mock.add_response(status_code=404)
    httpx_mock.add_response(json=imds_answer(graph_token()))
    reporter = RecordingReporter()
    with make_client() as http:
        IdentityTokens(identity(), http, reporter, NO_WAIT).acquire("https://graph.microsoft.com")
    assert len(httpx_mock.get_requests()) == 3


def test_imds_down_for_good_names_it(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503, is_reusable=True)
    with make_client() as http, pytest.raises(ServiceError) as caught:
        IdentityTokens(identity(), http, RecordingReporter(), NO_WAIT).acquire("r")
    assert "IMDS" in caught.value.message and "HTTP 503" in caught.value.message


@pytest.mark.parametrize(("ref", "words"), [
    (IdentityRef("client-id", OID), f"does not know the user-assigned managed identity with "
                                    f"client-id {OID}"),
    (None, "has no system-assigned managed identity"),
])
def test_an_identity_the_machine_lacks(httpx_mock: HTTPXMock, ref: IdentityRef | None,
                                       words: str) -> None:
    httpx_mock.add_response(status_code=400, json={"error": "invalid_request",
                                                   "error_description": "Identity not found"})
    with make_client() as http, pytest.raises(AuthError) as caught:
        IdentityTokens(identity(ref), http, RecordingReporter(), NO_WAIT).acquire("r")
    line = caught.value.one_line()
    assert words in line and "Identity not found" in line and IMDS in line


def test_an_answer_that_is_not_json(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=403, text="<html>proxy login</html>")
    with make_client() as http, pytest.raises(ServiceError,
                                              match="HTTP 403 and something other than JSON"):
        IdentityTokens(identity(), http, RecordingReporter(), NO_WAIT).acquire("r")


def test_service_fabric_gets_the_client_msal_requires() -> None:
    environ = {"IDENTITY_ENDPOINT": "https://10.0.0.4:2377/x", "IDENTITY_HEADER": "h",
               "IDENTITY_SERVER_THUMBPRINT": "ab" * 20}
    import requests

    with make_client() as http:
        tokens = IdentityTokens(identity(environ=environ), http, RecordingReporter())
        inner = tokens._client._http_client.http_client  # MSAL wraps it in its throttle
    assert isinstance(inner, requests.Session)


def test_sign_in_as_the_identity(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=imds_answer(graph_token()))
    reporter = RecordingReporter()
    settings = build_settings({"credential": "managed-identity", "auth-url": AUTH})
    with make_client() as http:
        tokens, facts = sign_in(settings, http, reporter, {}, Path("."))
        assert tokens.token() and facts.object_id == OID
    assert any("system-assigned managed identity" in line for line in reporter.lines)
    assert not [r for r in httpx_mock.get_requests() if "login" in str(r.url)]


def test_the_identity_of_another_tenant_is_refused() -> None:
    settings = build_settings({"credential": "managed-identity", "auth-url": AUTH})
    other = "0d5b0c8e-0000-4000-8000-00000000000f"
    with pytest.raises(TenantMismatchError) as caught:
        check_token(graph_token(tid=other), settings)
    assert "managed-identity-federation" in (caught.value.fix or "")
    by_domain = build_settings({"credential": "managed-identity", "auth-url": AUTH.replace(
        TENANT, "contoso.onmicrosoft.com")})
    check_token(graph_token(tid=other), by_domain)  # a domain cannot be compared: no guess


def test_an_identity_without_the_role_is_told_how_to_grant_it() -> None:
    settings = build_settings({"credential": "managed-identity", "auth-url": AUTH})
    with pytest.raises(MissingPermissionError) as caught:
        check_token(graph_token(roles=[]), settings)
    line = caught.value.one_line()
    assert f"service principal {OID}" in line and "App registrations" not in line
    assert "78145de6-330d-4800-a6ce-494ff2d33d07" in line and "az rest" in line


def test_the_federated_credential_is_the_identity_exchange_token(httpx_mock: HTTPXMock) -> None:
    exchange = fake_jwt({"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0", "sub": OID,
                         "aud": "fb60f99c-7a34-4190-8149-302f77469936"})
    httpx_mock.add_response(json=imds_answer(exchange))
    settings = build_settings({"credential": "managed-identity-federation", "auth-url": AUTH,
                               "client-id": "11111111-2222-3333-4444-555555555555"})
    reporter = RecordingReporter()
    with make_client() as http:
        credential = managed_credential(settings, http, reporter, {}, NO_WAIT)
        assert isinstance(credential.msal, dict)
        assert credential.msal["client_assertion"]() == exchange
    request, = httpx_mock.get_requests()
    assert request.url.params["resource"] == "api://AzureADTokenExchange"
    assert exchange in reporter.masked
    assert any(f"subject {OID}" in line for line in reporter.lines)
