"""The managed identity endpoints: IMDS and App Service, their answers and their refusals.

Each refusal follows the page that documents it: IMDS's "Error handling" table
(learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token,
400 bad_request_102 "Required metadata header not specified", 400 invalid_resource
AADSTS500011), 400 invalid_request "Identity not found" for an identity the machine does not
have (what azure-identity's ImdsCredential reads as "the requested identity has not been
assigned to this resource"), and App Service's X-IDENTITY-HEADER
(learn.microsoft.com/azure/app-service/overview-managed-identity, "REST endpoint reference").
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from intune_step.emulator import Emulator, EmulatorConfig
from intune_step.emulator.config import READ_ROLE, READ_WRITE_ROLE, ManagedIdentityConfig
from intune_step.emulator.login import TOKEN_EXCHANGE_APP_ID

SYSTEM = ManagedIdentityConfig(client_id=str(uuid.uuid4()), object_id=str(uuid.uuid4()),
                               system_assigned=True)
USER = ManagedIdentityConfig(
    client_id=str(uuid.uuid4()), object_id=str(uuid.uuid4()),
    resource_id=f"/subscriptions/{uuid.uuid4()}/resourceGroups/ci/providers/"
                "Microsoft.ManagedIdentity/userAssignedIdentities/runner",
    roles=(READ_ROLE,))
TOKEN_PATH = "/metadata/identity/oauth2/token"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
pytestmark = pytest.mark.emu(managed_identities=(SYSTEM, USER))


@pytest.fixture
def plain() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def imds(emu: Emulator, plain: httpx.Client, headers: dict[str, str] | None = None,
         **params: str) -> httpx.Response:
    assert emu.identity_url and emu.identity_url.startswith("http://127.0.0.1:")
    query = {"api-version": "2018-02-01", "resource": emu.graph_url, **params}
    return plain.get(emu.identity_url + TOKEN_PATH, params={k: v for k, v in query.items() if v},
                     headers={"Metadata": "true"} if headers is None else headers)


def app_service(emu: Emulator, plain: httpx.Client, header: str | None = None,
                **params: str) -> httpx.Response:
    env = emu.app_service_env()
    query = {"api-version": "2019-08-01", "resource": emu.graph_url, **params}
    return plain.get(env["IDENTITY_ENDPOINT"], params=query,
                     headers={"X-IDENTITY-HEADER": env["IDENTITY_HEADER"]
                              if header is None else header})


def test_imds_answers_with_the_documented_fields(emu: Emulator, plain: httpx.Client) -> None:
    response = imds(emu, plain)
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"access_token", "expires_in", "expires_on", "resource", "token_type"}
    assert body["resource"] == emu.graph_url and body["token_type"] == "Bearer"
    # Seconds as strings, as IMDS writes them (MSAL's VM path reads expires_in).
    assert body["expires_in"].isdigit() and body["expires_on"].isdigit()
    assert abs(int(body["expires_on"]) - time.time() - int(body["expires_in"])) < 5
    token = claims(body["access_token"])
    assert token["oid"] == SYSTEM.object_id and token["appid"] == SYSTEM.client_id
    assert token["tid"] == emu.tenant_id and token["aud"] == emu.graph_url


@pytest.mark.parametrize("selector", ["client_id", "object_id", "msi_res_id"])
def test_imds_finds_a_user_assigned_identity_three_ways(emu: Emulator, plain: httpx.Client,
                                                        selector: str) -> None:
    value = {"client_id": USER.client_id, "object_id": USER.object_id,
             "msi_res_id": USER.resource_id or ""}[selector]
    response = imds(emu, plain, **{selector: value.upper()})  # IDs compare case-insensitively
    assert response.status_code == 200
    assert claims(response.json()["access_token"])["oid"] == USER.object_id


@pytest.mark.parametrize("headers", [{}, {"Metadata": "True"}, {"Metadata": "yes"}])
def test_imds_without_the_metadata_header_is_refused(emu: Emulator, plain: httpx.Client,
                                                     headers: dict[str, str]) -> None:
    response = imds(emu, plain, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"error": "bad_request_102",
                               "error_description": "Required metadata header not specified"}


def test_imds_refuses_an_identity_the_machine_does_not_have(emu: Emulator,
                                                            plain: httpx.Client) -> None:
    for selector in ("client_id", "object_id"):
        response = imds(emu, plain, **{selector: str(uuid.uuid4())})
        assert response.status_code == 400
        assert response.json() == {"error": "invalid_request",
                                   "error_description": "Identity not found"}
    assert emu.issued_tokens == []


@pytest.mark.emu(managed_identities=(USER, ManagedIdentityConfig(str(uuid.uuid4()),
                                                                 str(uuid.uuid4()))))
def test_without_a_system_identity_and_with_two_user_assigned_one_must_be_named(
        emu: Emulator, plain: httpx.Client) -> None:
    assert imds(emu, plain).json()["error_description"] == "Identity not found"
    assert imds(emu, plain, client_id=USER.client_id).status_code == 200


@pytest.mark.emu(managed_identities=(USER,))
def test_a_lone_user_assigned_identity_answers_for_the_system_one(emu: Emulator,
                                                                   plain: httpx.Client) -> None:
    # MSAL's note on acquire_token_for_client: the VM answers with its only identity.
    response = imds(emu, plain)
    assert claims(response.json()["access_token"])["oid"] == USER.object_id


@pytest.mark.emu(identity_endpoint=True)
def test_a_machine_without_identities_has_none_to_give(emu: Emulator,
                                                       plain: httpx.Client) -> None:
    assert imds(emu, plain).json()["error_description"] == "Identity not found"


@pytest.mark.emu()
def test_without_identities_the_endpoint_is_not_opened(emu: Emulator) -> None:
    assert emu.identity_url is None


def test_imds_refuses_bad_queries(emu: Emulator, plain: httpx.Client) -> None:
    assert imds(emu, plain, **{"api-version": ""}).status_code == 400
    assert imds(emu, plain, resource="").status_code == 400
    both = imds(emu, plain, client_id=USER.client_id, object_id=USER.object_id)
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"
    posted = plain.post(f"{emu.identity_url}{TOKEN_PATH}?api-version=2018-02-01&resource=x",
                        headers={"Metadata": "true"})
    assert posted.status_code == 405


def test_imds_refuses_an_unknown_resource(emu: Emulator, plain: httpx.Client) -> None:
    response = imds(emu, plain, resource="https://vault.azure.net")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_resource"
    assert body["error_description"].startswith("AADSTS500011: ")


def test_the_endpoint_is_plain_http_only(emu: Emulator) -> None:
    assert emu.identity_url is not None
    with httpx.Client(verify=emu.ssl_context(), timeout=5) as tls, pytest.raises(
            httpx.ConnectError):
        tls.get(emu.identity_url.replace("http://", "https://") + TOKEN_PATH)


def test_app_service_needs_its_identity_header(emu: Emulator, plain: httpx.Client) -> None:
    assert app_service(emu, plain).status_code == 200
    for header in ("", "not-the-secret"):
        response = app_service(emu, plain, header=header)
        assert response.status_code == 400
        assert set(response.json()) == {"statusCode", "message", "correlationId"}


def test_app_service_answers_expires_on_and_finds_identities(emu: Emulator,
                                                             plain: httpx.Client) -> None:
    body = app_service(emu, plain, mi_res_id=USER.resource_id or "").json()
    assert body["expires_on"].isdigit() and claims(body["access_token"])["oid"] == USER.object_id
    for selector in ("client_id", "principal_id"):
        value = USER.client_id if selector == "client_id" else USER.object_id
        assert app_service(emu, plain, **{selector: value}).status_code == 200
    unknown = app_service(emu, plain, client_id=str(uuid.uuid4()))
    assert unknown.status_code == 400
    assert unknown.json()["message"] == "Unable to load the proper Managed Identity."


def test_graph_takes_the_identity_token_with_its_own_roles(emu: Emulator,
                                                           plain: httpx.Client) -> None:
    with httpx.Client(verify=emu.ssl_context(), timeout=10) as graph:
        for identity, write_status in ((SYSTEM, 201), (USER, 403)):
            params = {} if identity.system_assigned else {"client_id": identity.client_id}
            token = imds(emu, plain, **params).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            listed = graph.get(f"{emu.graph_url}/beta/deviceAppManagement/mobileApps",
                               headers=headers)
            assert listed.status_code == 200
            created = graph.post(f"{emu.graph_url}/beta/deviceAppManagement/mobileAppCategories",
                                 headers=headers, json={"displayName": f"c-{uuid.uuid4()}"})
            assert created.status_code == write_status, created.text
    assert READ_WRITE_ROLE in SYSTEM.roles and READ_WRITE_ROLE not in USER.roles


def test_an_exchange_token_is_not_a_graph_token(emu: Emulator, plain: httpx.Client) -> None:
    token = imds(emu, plain, resource="api://AzureADTokenExchange").json()["access_token"]
    seen = claims(token)
    # Entra's shape: v2 issuer of the tenant, the identity's object ID as subject, and the
    # token exchange app's ID as audience.
    assert seen["iss"] == emu.issuer and seen["sub"] == SYSTEM.object_id
    assert seen["aud"] == TOKEN_EXCHANGE_APP_ID and seen["ver"] == "2.0"
    with httpx.Client(verify=emu.ssl_context(), timeout=10) as graph:
        refused = graph.get(f"{emu.graph_url}/beta/deviceAppManagement/mobileApps",
                            headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


def _assertion_grant(other: Emulator, assertion: str) -> httpx.Response:
    with httpx.Client(verify=other.ssl_context(), timeout=10) as login:
        return login.post(f"{other.login_url}/{other.tenant_id}/oauth2/v2.0/token", data={
            "grant_type": "client_credentials", "client_id": other.client_id,
            "scope": f"{other.graph_url}/.default", "client_assertion_type": JWT_BEARER,
            "client_assertion": assertion})


def test_another_tenant_takes_the_exchange_token_only_where_it_is_trusted(
        emu: Emulator, plain: httpx.Client) -> None:
    exchange = imds(emu, plain, client_id=USER.client_id,
                    resource="api://AzureADTokenExchange").json()["access_token"]
    trusted = ((emu.issuer, USER.object_id),)
    with Emulator(EmulatorConfig(federated_credentials=trusted)) as other:
        assert _assertion_grant(other, exchange).status_code == 200
    # Another subject, or the same subject from another issuer: AADSTS70021.
    for pair in ((emu.issuer, SYSTEM.object_id), ("https://login.example/t/v2.0", USER.object_id)):
        with Emulator(EmulatorConfig(federated_credentials=(pair,))) as other:
            refused = _assertion_grant(other, exchange)
            assert refused.status_code == 400 and refused.json()["error_codes"] == [70021]
    # The Graph token of the identity is no assertion either (its audience is Graph).
    graph_token = imds(emu, plain, client_id=USER.client_id).json()["access_token"]
    with Emulator(EmulatorConfig(federated_credentials=trusted)) as other:
        assert _assertion_grant(other, graph_token).json()["error_codes"] == [70021]
