"""Entra token endpoint: discovery, client credentials, assertions, Entra-shaped errors."""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import msal
import pytest
import requests

from intune_step.emulator import Emulator
from intune_step.emulator.config import READ_ROLE

from .helpers import Api


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _jwt(claims: dict) -> str:
    def enc(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{enc({'alg': 'PS256', 'typ': 'JWT'})}.{enc(claims)}.c2ln"


def _entra_code(response: httpx.Response) -> int:
    body = response.json()
    assert body["error_description"].startswith(f"AADSTS{body['error_codes'][0]}: ")
    assert body["trace_id"] and body["correlation_id"] and body["timestamp"]
    return body["error_codes"][0]


def test_secret_grant_issues_jwt_with_claims(emu: Emulator, api: Api) -> None:
    response = api.token_response()
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    claims = _claims(body["access_token"])
    assert claims["tid"] == emu.tenant_id and claims["appid"] == emu.client_id
    assert claims["aud"] == emu.graph_url
    assert "DeviceManagementApps.ReadWrite.All" in claims["roles"]
    assert claims["exp"] > time.time() + 3000
    assert emu.issued_tokens == [body["access_token"]]


def test_openid_configuration_and_instance_discovery(emu: Emulator, http: httpx.Client) -> None:
    config = http.get(f"{emu.login_url}/{emu.tenant_id}/v2.0/.well-known/openid-configuration")
    assert config.status_code == 200
    doc = config.json()
    assert doc["token_endpoint"] == emu.auth_url
    assert doc["authorization_endpoint"].startswith(emu.login_url)
    assert doc["issuer"].startswith(emu.login_url)
    unknown = http.get(f"{emu.login_url}/nope.example/v2.0/.well-known/openid-configuration")
    assert unknown.status_code == 400 and _entra_code(unknown) == 90002
    instance = http.get(
        f"{emu.login_url}/common/discovery/instance",
        params={"authorization_endpoint": f"{emu.login_url}/{emu.tenant_id}/oauth2/v2.0/authorize"},
    )
    assert instance.json()["tenant_discovery_endpoint"].startswith(
        f"{emu.login_url}/{emu.tenant_id}/"
    )


def test_msal_signs_in_against_the_emulator(emu: Emulator) -> None:
    session = requests.Session()
    session.verify = str(emu.ca_path)
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    app = msal.ConfidentialClientApplication(
        emu.client_id,
        client_credential=emu.client_secret,
        authority=f"{emu.login_url}/{emu.tenant_id}",
        http_client=session,
        instance_discovery=False,
    )
    result = app.acquire_token_for_client([f"{emu.graph_url}/.default"])
    assert "access_token" in result, result
    assert result["access_token"] in emu.issued_tokens


@pytest.mark.parametrize(
    ("form", "url_tenant", "status", "code"),
    [
        ({}, "11111111-1111-1111-1111-111111111111", 400, 90002),
        ({"client_id": str(uuid.UUID(int=7))}, None, 400, 700016),
        ({"client_secret": "not-it"}, None, 401, 7000215),
        ({"scope": "https://graph.microsoft.com/.default"}, None, 400, 70011),
        ({"scope": "{graph}"}, None, 400, 70011),  # no /.default
        ({"client_secret": "", "client_assertion": "b'eyJhbGciOi.eyJ.sig'",
          "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
         None, 400, 50027),
    ],
)  # fmt: skip
def test_token_errors_are_entra_shaped(
    emu: Emulator, api: Api, form: dict, url_tenant: str | None, status: int, code: int
) -> None:
    form = {k: v.replace("{graph}", emu.graph_url) for k, v in form.items()}
    if url_tenant:
        url = emu.auth_url.replace(emu.tenant_id, url_tenant)
        response = api.http.post(
            url,
            data={
                "grant_type": "client_credentials",
                "client_id": emu.client_id,
                "client_secret": emu.client_secret,
                "scope": f"{emu.graph_url}/.default",
            },
        )
    else:
        response = api.token_response(**form)
    assert response.status_code == status, response.text
    assert _entra_code(response) == code
    assert emu.issued_tokens == []


def test_client_assertions(emu: Emulator, api: Api) -> None:
    jwt_bearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    now = int(time.time())
    good = {
        "aud": emu.auth_url, "iss": emu.client_id, "sub": emu.client_id,
        "jti": str(uuid.uuid4()), "nbf": now, "iat": now, "exp": now + 600,
    }  # fmt: skip
    ok = api.token_response(
        client_secret="", client_assertion=_jwt(good), client_assertion_type=jwt_bearer
    )
    assert ok.status_code == 200, ok.text
    assert _claims(ok.json()["access_token"])["appidacr"] == "2"
    expired = api.token_response(
        client_secret="",
        client_assertion=_jwt({**good, "exp": now - 10}),
        client_assertion_type=jwt_bearer,
    )
    assert _entra_code(expired) == 700024
    federated = {
        **good,
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:o/r:ref:refs/heads/main",
        "aud": "api://AzureADTokenExchange",
    }
    refused = api.token_response(
        client_secret="", client_assertion=_jwt(federated), client_assertion_type=jwt_bearer
    )
    assert refused.status_code == 400 and _entra_code(refused) == 70021


@pytest.mark.emu(federated_subjects=("repo:o/r:ref:refs/heads/main",))
def test_federated_subject_accepted_when_configured(emu: Emulator, api: Api) -> None:
    now = int(time.time())
    assertion = _jwt({"iss": "https://token.actions.githubusercontent.com",
                      "sub": "repo:o/r:ref:refs/heads/main", "aud": "api://AzureADTokenExchange",
                      "exp": now + 300})  # fmt: skip
    response = api.token_response(
        client_secret="",
        client_assertion=assertion,
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    )
    assert response.status_code == 200, response.text


GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
ADO_LEGACY_ISSUER = "https://vstoken.dev.azure.com/00000000-1111-2222-3333-444444444444"
ADO_ENTRA_ISSUER = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
ADO_ENTRA_SUBJECT = ("/eid1/c/pub/t/v4j5cvGGr0GRqy180BHbRw/a/AQABAAAAAAAAAAAAAAAAAA/sc/"
                     "00000000-1111-2222-3333-444444444444/dddddddd-2222-3333-4444-555555555555")
CREDENTIALS = (
    # GitHub: repositories created or renamed from 2026-07-15 carry immutable owner and
    # repository IDs (repo:OWNER@ID/REPO@ID:...); older ones the names alone.
    (GITHUB_ISSUER, "repo:octocat@123456/my-repo@456789:ref:refs/heads/main"),
    (GITHUB_ISSUER, "repo:octocat/old-repo:ref:refs/heads/main"),
    # Azure DevOps: the retiring vstoken issuer with sc:// subjects, and the Entra issuer.
    (ADO_LEGACY_ISSUER, "sc://contoso/app/intune"),
    (ADO_ENTRA_ISSUER, ADO_ENTRA_SUBJECT),
)


def _federated(api: Api, iss: str, sub: str) -> httpx.Response:
    claims = {"iss": iss, "sub": sub, "aud": "api://AzureADTokenExchange",
              "exp": int(time.time()) + 300}
    return api.token_response(
        client_secret="", client_assertion=_jwt(claims),
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer")


@pytest.mark.emu(federated_credentials=CREDENTIALS)
@pytest.mark.parametrize(("iss", "sub"), CREDENTIALS)
def test_both_forms_of_each_ci_identity_are_accepted(emu: Emulator, api: Api, iss: str,
                                                     sub: str) -> None:
    response = _federated(api, iss, sub)
    assert response.status_code == 200, response.text


@pytest.mark.emu(federated_credentials=CREDENTIALS)
@pytest.mark.parametrize(("iss", "sub"), [
    # the right subject from another issuer (Entra matches issuer and subject together)
    (ADO_ENTRA_ISSUER, "sc://contoso/app/intune"),
    (ADO_LEGACY_ISSUER, ADO_ENTRA_SUBJECT),
    # the other form of a registered repository: not the same string, so no match
    (GITHUB_ISSUER, "repo:octocat/my-repo:ref:refs/heads/main"),
    (GITHUB_ISSUER, "repo:octocat@123456/old-repo@1:ref:refs/heads/main"),
    # case matters
    (GITHUB_ISSUER, "repo:Octocat@123456/my-repo@456789:ref:refs/heads/main"),
])
def test_a_federated_credential_matches_issuer_and_subject_exactly(
    emu: Emulator, api: Api, iss: str, sub: str
) -> None:
    """Entra: "the combination of issuer and subject must be unique on the app" and both are
    compared exactly (learn.microsoft.com, workload-identity-federation-create-trust)."""
    response = _federated(api, iss, sub)
    assert response.status_code == 400 and _entra_code(response) == 70021


@pytest.mark.emu(token_lifetime_s=1)
def test_expired_token_is_refused_by_graph(emu: Emulator, api: Api) -> None:
    assert api.call("GET", "deviceAppManagement/mobileApps").status_code == 200
    time.sleep(1.1)
    response = api.call("GET", "deviceAppManagement/mobileApps")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "expired" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("headers", "text"),
    [({}, "Access token is empty."), ({"Authorization": "Bearer abc"}, "IDX14100")],
)
def test_missing_or_unknown_token_is_401(
    emu: Emulator, http: httpx.Client, headers: dict, text: str
) -> None:
    response = http.get(f"{emu.graph_url}/beta/deviceAppManagement/mobileApps", headers=headers)
    assert response.status_code == 401
    assert response.headers["request-id"]
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken" and text in error["message"]
    assert error["innerError"]["request-id"] == response.headers["request-id"]


@pytest.mark.emu(roles=(READ_ROLE,))
def test_read_only_role_cannot_write(emu: Emulator, api: Api) -> None:
    assert api.call("GET", "deviceAppManagement/mobileApps").status_code == 200
    response = api.call("POST", "deviceAppManagement/mobileApps", {"displayName": "x"})
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "Forbidden"
    inner = json.loads(error["message"])
    assert "DeviceManagementApps.ReadWrite.All" in inner["Message"]
    assert emu.apps() == []


@pytest.mark.emu(roles=())
def test_no_role_cannot_read(emu: Emulator, api: Api) -> None:
    response = api.call("GET", "deviceAppManagement/mobileApps")
    assert response.status_code == 403
    assert (
        "DeviceManagementApps.Read.All"
        in json.loads(response.json()["error"]["message"])["Message"]
    )


@pytest.mark.emu(token_tid="99999999-9999-9999-9999-999999999999")
def test_token_from_another_tenant_is_refused(emu: Emulator, api: Api) -> None:
    assert _claims(api.token)["tid"] == "99999999-9999-9999-9999-999999999999"
    assert api.call("GET", "deviceAppManagement/mobileApps").status_code == 401
