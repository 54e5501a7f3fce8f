"""Which credential signs in, and what MSAL (the installed version) then sends to Entra."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from pytest_httpx import HTTPXMock

from intune_step.auth.credentials import build_credential
from intune_step.auth.tokens import TokenProvider
from intune_step.config.credentials import choose_credential
from intune_step.config.settings import build_settings
from intune_step.errors import AuthError, SettingsError
from intune_step.report import RecordingReporter
from intune_step.transport.http import make_client

from ...certs import fake_jwt, github_claims, make_cert
from ..conftest import LOGIN, TOKEN, add_discovery, add_token

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
TOKEN_URL = f"{LOGIN}/oauth2/v2.0/token"
GITHUB_ENV = {"GITHUB_ACTIONS": "true",
              "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.example/idtoken?api-version=2.0",
              "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-request-token"}
SUBJECT = "repo:contoso/app:environment:production"
GITHUB_TOKEN_URL = re.compile(r"https://token\.example/idtoken\?.*")


def raw(**values: str | None) -> dict[str, str | None]:
    return {"client-id": CLIENT_ID, "auth-url": TOKEN_URL,
            **{k.replace("_", "-"): v for k, v in values.items()}}


@pytest.mark.parametrize(
    ("values", "environ", "kind"),
    [
        ({"client_secret": "s"}, {}, "secret"),
        ({"certificate_file": "c.pem"}, {}, "certificate"),
        ({"certificate": "-----BEGIN..."}, {}, "certificate"),
        ({"federated_token_env": "ID_TOKEN"}, {}, "federated-token"),
        ({"federated_token_file": "t.jwt"}, {}, "federated-token"),
        ({"service_connection_id": "bbbbbbbb-2222-3333-4444-555555555555"}, {},
         "azure-devops-oidc"),
        ({}, GITHUB_ENV, "github-oidc"),  # nothing given, but the job may mint OIDC tokens
        ({"client_secret": "s"}, GITHUB_ENV, "secret"),  # given beats the environment
        ({"credential": "certificate", "client_secret": "s", "certificate_file": "c.pem"}, {},
         "certificate"),
        ({"credential": "github-oidc", "client_secret": "s"}, {}, "github-oidc"),
        ({"credential": "auto", "certificate_file": "c.pem"}, {}, "certificate"),
        ({}, {}, None),
    ],
)  # fmt: skip
def test_choice(values: dict, environ: dict, kind: str | None) -> None:
    assert choose_credential(raw(**values), environ) == kind


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"client_secret": "s", "certificate_file": "c.pem"},
         "more than one credential is given (client-secret, certificate-file)"),
        ({"certificate": "x", "certificate_file": "c.pem"},
         "both certificate and certificate-file are set"),
        ({"credential": "certificate"}, "needs certificate or certificate-file"),
        ({"credential": "federated-token"}, "needs federated-token-env or federated-token-file"),
        ({"federated_token_env": "$ID_TOKEN"}, "must name an environment variable"),
        ({"credential": "azure-devops-oidc"}, "needs service-connection-id"),
        ({"service_connection_id": "my-connection"}, "needs service-connection-id (a GUID)"),
        ({"credential": "password"}, "credential must be one of auto, secret, certificate"),
    ],
)  # fmt: skip
def test_inconsistent_credentials_are_refused(values: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_settings(raw(**values))


def test_no_credential_at_all_is_missing_client_secret_with_the_alternatives() -> None:
    with pytest.raises(SettingsError, match="missing client-secret") as caught:
        build_settings(raw(client_secret="  "))
    line = caught.value.one_line()
    assert "certificate" in line and "id-token: write" in line
    with pytest.raises(SettingsError, match="missing client-secret"):
        build_settings(raw(credential="secret"))
    # A GitHub job allowed to mint OIDC tokens needs no secret.
    assert build_settings(raw(), GITHUB_ENV).credential == "github-oidc"


def test_only_the_chosen_credential_is_kept() -> None:
    settings = build_settings(raw(credential="certificate", client_secret="s",
                                  certificate_file="c.pem", federated_token_env="X"))
    assert settings.certificate_file == Path("c.pem")
    assert settings.federated_token_env is None


def _settings_with_cert(tmp_path: Path, data: bytes, name: str = "app.pem", **values: str):
    (tmp_path / name).write_bytes(data)
    return build_settings(raw(certificate_file=name, **values))


def _assertion(httpx_mock: HTTPXMock) -> tuple[dict, str]:
    post = next(r for r in httpx_mock.get_requests() if r.method == "POST")
    form = {k: v[0] for k, v in parse_qs(post.content.decode()).items()}
    return form, form["client_assertion"]


def _header(token: str) -> dict:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_pem_certificate_signs_the_assertion_msal_posts(httpx_mock: HTTPXMock,
                                                        tmp_path: Path) -> None:
    kit = make_cert("CN-unit")
    settings = _settings_with_cert(tmp_path, kit.key_pem + kit.cert_pem)
    add_discovery(httpx_mock)
    add_token(httpx_mock)
    reporter = RecordingReporter()
    with make_client() as http:
        credential = build_credential(settings, http, reporter, {}, tmp_path)
        assert TokenProvider(settings, http, reporter, credential).token() == TOKEN
    form, assertion = _assertion(httpx_mock)
    assert "client_secret" not in form
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert not assertion.startswith("b'")  # docs/protocol.md, "Client assertion sent as bytes"
    header = _header(assertion)
    assert header["alg"] == "RS256" and "x5c" not in header
    assert header["x5t"] == base64.urlsafe_b64encode(bytes.fromhex(kit.sha1_hex)).decode()
    claims = jwt.decode(assertion, kit.cert.public_key(), algorithms=["RS256"],
                        audience=TOKEN_URL)  # verifies the signature with the certificate
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert kit.key_pem.decode() in reporter.masked
    assert credential.description.startswith("certificate CN=CN-unit, thumbprint ")


def test_pfx_with_chain_sends_x5c(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    ca = make_cert("Contoso CA", seed=1, ca=True)
    leaf = make_cert("CN-sni", issuer=ca)
    settings = _settings_with_cert(tmp_path, leaf.pfx("pfx-pass"), "app.pfx",
                                   certificate_password="pfx-pass", send_certificate_chain="true")
    add_discovery(httpx_mock)
    add_token(httpx_mock)
    reporter = RecordingReporter()
    with make_client() as http:
        credential = build_credential(settings, http, reporter, {}, tmp_path)
        TokenProvider(settings, http, reporter, credential).token()
    _, assertion = _assertion(httpx_mock)
    x5c = _header(assertion)["x5c"]
    der = [base64.b64decode("".join(entry.split())) for entry in x5c]
    assert der == [leaf.cert.public_bytes(Encoding.DER), ca.cert.public_bytes(Encoding.DER)]
    assert "pfx-pass" in reporter.masked
    assert "sending its chain (2)" in credential.description


def test_inline_base64_pfx(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    kit = make_cert()
    inline = base64.b64encode(kit.pfx("p")).decode()
    settings = build_settings(raw(certificate=inline, certificate_password="p"))
    reporter = RecordingReporter()
    with make_client() as http:
        credential = build_credential(settings, http, reporter, {}, tmp_path)
    assert credential.msal["thumbprint"] == kit.sha1_hex
    assert inline in reporter.masked and "p" in reporter.masked


def test_missing_certificate_file(tmp_path: Path) -> None:
    settings = build_settings(raw(certificate_file="nope/app.pem"))
    with make_client() as http, pytest.raises(SettingsError, match="does not exist"):
        build_credential(settings, http, RecordingReporter(), {}, tmp_path)


def test_federated_assertion_is_fetched_for_every_token_request(httpx_mock: HTTPXMock,
                                                                tmp_path: Path) -> None:
    """MSAL 1.39 calls the assertion callable on each token request: two sign-ins, two
    GitHub tokens, each posted as the assertion of its own request."""
    tokens = [fake_jwt(github_claims(SUBJECT)) for _ in range(2)]
    for token in tokens:
        httpx_mock.add_response(method="GET", url=GITHUB_TOKEN_URL, json={"value": token})
    add_discovery(httpx_mock)
    add_token(httpx_mock)
    settings = build_settings(raw(), GITHUB_ENV)
    reporter = RecordingReporter()
    with make_client() as http:
        credential = build_credential(settings, http, reporter, GITHUB_ENV, tmp_path)
        provider = TokenProvider(settings, http, reporter, credential)
        provider.token()
        provider.token()  # cached: MSAL needs no new token, so no new GitHub token either
        provider.token(force_refresh=True)
    gets = [r for r in httpx_mock.get_requests() if r.method == "GET" and "idtoken" in str(r.url)]
    posts = [r for r in httpx_mock.get_requests() if r.method == "POST"]
    assert len(gets) == len(posts) == 2
    sent = [parse_qs(p.content.decode())["client_assertion"][0] for p in posts]
    assert sent == tokens
    assert set(tokens) <= set(reporter.masked)


def test_no_matching_federated_credential_names_issuer_and_subject(httpx_mock: HTTPXMock,
                                                                   tmp_path: Path) -> None:
    httpx_mock.add_response(method="GET", url=GITHUB_TOKEN_URL,
                            json={"value": fake_jwt(github_claims(SUBJECT))})
    add_discovery(httpx_mock)
    httpx_mock.add_response(
        method="POST", url=TOKEN_URL, status_code=400,
        json={"error": "invalid_client", "error_codes": [70021], "error_description":
              "AADSTS70021: No matching federated identity record found for presented assertion."})
    settings = build_settings(raw(credential="github-oidc"), GITHUB_ENV)
    with make_client() as http, pytest.raises(AuthError) as caught:
        credential = build_credential(settings, http, RecordingReporter(), GITHUB_ENV, tmp_path)
        TokenProvider(settings, http, RecordingReporter(), credential).token()
    line = caught.value.one_line()
    assert "AADSTS70021" in line and f"subject {SUBJECT}" in line
    assert "issuer https://token.actions.githubusercontent.com" in line
    assert "Federated credentials" in line


