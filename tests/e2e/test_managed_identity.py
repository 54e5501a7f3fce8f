"""Managed identity end to end: the step as a real process, MSAL talking to the emulator's
identity endpoint over plain http on loopback, Graph and Blob over TLS.

MSAL finds the endpoint in the process environment: ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` moves
its Azure VM (IMDS) path here, ``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER`` select its App
Service path. As a federated credential, the identity's token for api://AzureADTokenExchange
signs in to a second emulator (another tenant) whose app registration trusts the identity.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from intune_step.emulator import Emulator, EmulatorConfig
from intune_step.emulator.config import ManagedIdentityConfig
from intune_step.samples.ipa import build_ipa

from .conftest import Run, run_cli, run_entrypoint
from .test_credentials import assert_nothing_leaked, assert_published

SYSTEM = ManagedIdentityConfig(client_id=str(uuid.uuid4()), object_id=str(uuid.uuid4()),
                               system_assigned=True)
USER = ManagedIdentityConfig(
    client_id=str(uuid.uuid4()), object_id=str(uuid.uuid4()),
    resource_id=f"/subscriptions/{uuid.uuid4()}/resourceGroups/ci/providers/"
                "Microsoft.ManagedIdentity/userAssignedIdentities/runner")
POWERLESS = ManagedIdentityConfig(client_id=str(uuid.uuid4()), object_id=str(uuid.uuid4()),
                                  roles=("DeviceManagementApps.Read.All",))
IDENTITIES = {"managed_identities": (SYSTEM, USER, POWERLESS), "token_lifetime_s": 60}
# Variables that select an identity endpoint in MSAL: none may leak in from the machine.
ENDPOINT_VARIABLES = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT",
                      "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET",
                      "AZURE_POD_IDENTITY_AUTHORITY_HOST", "AZUREPS_HOST_ENVIRONMENT")


@pytest.fixture(autouse=True)
def no_identity_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def as_identity(emu: Emulator, workspace: Path, env: dict[str, str], **inputs: str) -> Run:
    """The entrypoint with no app registration at all: no client ID, no secret."""
    return run_entrypoint(emu, workspace, "app.ipa", env=env, client_id="", client_secret="",
                          credential="managed-identity", **inputs)


def scan(emu: Emulator, run: Run) -> None:
    files = [run.summary, *(b.decode("utf-8", "replace") for b in run.files.values())]
    assert_nothing_leaked(emu, run.printed, files, [emu.client_secret, emu.identity_header])


@pytest.mark.e2e
@pytest.mark.emulator_config(**IDENTITIES)
@pytest.mark.parametrize("identity", ["system", "client-id", "object-id", "resource-id"])
def test_the_identity_signs_in_and_publishes(emulator: Emulator, tmp_path: Path,
                                             identity: str) -> None:
    ipa = build_ipa(tmp_path / "app.ipa", bundle_id="com.contoso.field")
    named = {"system": "", "client-id": USER.client_id, "object-id": f"object-id:{USER.object_id}",
             "resource-id": USER.resource_id or ""}[identity]
    run = as_identity(emulator, tmp_path, emulator.imds_env(), managed_identity_id=named)
    assert_published(emulator, run.returncode, run.printed, ipa)
    principal = SYSTEM if identity == "system" else USER
    assert f"Signed in to tenant {emulator.tenant_id} as the " in run.stdout
    asked = [r.query for r in emulator.request_log if r.service == "identity"]
    assert asked and all("resource=" in q for q in asked)
    selector = {"client-id": f"client_id={principal.client_id}",
                "object-id": f"object_id={principal.object_id}",
                "resource-id": "msi_res_id="}.get(identity)
    assert all((selector in q) if selector else ("_id=" not in q) for q in asked)
    assert not [r for r in emulator.request_log if r.service == "login"]  # no Entra app at all
    scan(emulator, run)


@pytest.mark.e2e
@pytest.mark.emulator_config(**IDENTITIES)
def test_the_cli_signs_in_through_the_app_service_endpoint(emulator: Emulator,
                                                          tmp_path: Path) -> None:
    ipa = build_ipa(tmp_path / "app.ipa")
    run = run_cli(emulator, ipa, INTUNE_CLIENT_ID="", INTUNE_CLIENT_SECRET="",
                  INTUNE_CREDENTIAL="managed-identity",
                  INTUNE_MANAGED_IDENTITY_ID=USER.client_id, **emulator.app_service_env())
    assert_published(emulator, run.returncode, run.printed, ipa)
    assert "App Service" in run.printed
    asked = [r for r in emulator.request_log if r.service == "identity"]
    assert asked and all(r.path == "/msi/token" for r in asked)


@pytest.fixture
def home_and_other(tmp_path: Path) -> Iterator[tuple[Emulator, Emulator, Path]]:
    """The identity's home tenant, and another tenant whose multi-tenant app trusts it."""
    with Emulator(EmulatorConfig(managed_identities=(USER,))) as home:
        trust = ((home.issuer, USER.object_id),)
        with Emulator(EmulatorConfig(federated_credentials=trust, token_lifetime_s=60)) as other:
            bundle = tmp_path / "both-cas.pem"
            bundle.write_bytes(home.ca_path.read_bytes() + other.ca_path.read_bytes())
            yield home, other, bundle


@pytest.mark.e2e
def test_the_identity_signs_in_to_another_tenant_as_a_federated_credential(
        home_and_other: tuple[Emulator, Emulator, Path], tmp_path: Path) -> None:
    home, other, bundle = home_and_other
    ipa = build_ipa(tmp_path / "app.ipa")
    run = run_entrypoint(other, tmp_path, "app.ipa", client_secret="",
                         credential="managed-identity-federation",
                         managed_identity_id=USER.client_id,
                         env={**home.imds_env(), "SSL_CERT_FILE": str(bundle)})
    assert_published(other, run.returncode, run.printed, ipa)
    assert f"Signed in to tenant {other.tenant_id} as {other.client_id}" in run.stdout
    assert f"subject {USER.object_id}" in run.stdout  # what the federated credential names
    assert home.apps() == []  # the home tenant only vouched for the identity
    exchange = [r.query for r in home.request_log if r.service == "identity"]
    assert exchange and all("resource=api%3A%2F%2FAzureADTokenExchange" in q for q in exchange)
    assert_nothing_leaked(other, run.printed, [run.summary], home.issued_tokens)


@pytest.mark.e2e
def test_an_app_that_does_not_trust_the_identity_is_refused(
        home_and_other: tuple[Emulator, Emulator, Path], tmp_path: Path) -> None:
    _home, other, bundle = home_and_other
    build_ipa(tmp_path / "app.ipa")
    stranger = ManagedIdentityConfig(client_id=str(uuid.uuid4()), object_id=str(uuid.uuid4()))
    with Emulator(EmulatorConfig(managed_identities=(stranger,))) as elsewhere:
        bundle.write_bytes(bundle.read_bytes() + elsewhere.ca_path.read_bytes())
        run = run_entrypoint(other, tmp_path, "app.ipa", client_secret="",
                             credential="managed-identity-federation",
                             env={**elsewhere.imds_env(), "SSL_CERT_FILE": str(bundle)})
    assert run.returncode == 2
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1
    assert "AADSTS70021" in errors[0] and f"subject {stranger.object_id}" in errors[0]
    assert other.write_requests() == []


# --- the error cases: one line each, naming the endpoint and what to check -----------------


def one_error(run: Run) -> str:
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1, run.printed
    return errors[0]


@pytest.mark.e2e
@pytest.mark.emulator_config(**IDENTITIES)
def test_no_identity_endpoint_reachable(emulator: Emulator, tmp_path: Path) -> None:
    build_ipa(tmp_path / "app.ipa")
    closed = "http://127.0.0.1:9"  # discard: nothing listens
    run = as_identity(emulator, tmp_path, {"AZURE_POD_IDENTITY_AUTHORITY_HOST": closed})
    assert run.returncode == 2
    line = one_error(run)
    assert "no managed identity endpoint answered" in line
    assert f"{closed}/metadata/identity/oauth2/token" in line and "IMDS" in line
    assert "AZURE_POD_IDENTITY_AUTHORITY_HOST is set" in line
    assert "Azure VM" in line  # what to check
    assert emulator.write_requests() == []


@pytest.mark.e2e
@pytest.mark.emulator_config(**IDENTITIES)
def test_an_identity_without_the_graph_permission(emulator: Emulator, tmp_path: Path) -> None:
    build_ipa(tmp_path / "app.ipa")
    run = as_identity(emulator, tmp_path, emulator.imds_env(),
                      managed_identity_id=POWERLESS.client_id)
    assert run.returncode == 2
    line = one_error(run)
    assert "lacks the application permission DeviceManagementApps.ReadWrite.All" in line
    assert f"service principal {POWERLESS.object_id}" in line and "az rest" in line
    assert emulator.write_requests() == []


@pytest.mark.e2e
@pytest.mark.emulator_config(**IDENTITIES)
@pytest.mark.parametrize("endpoint", ["imds", "app-service"])
def test_an_unknown_user_assigned_identity(emulator: Emulator, tmp_path: Path,
                                           endpoint: str) -> None:
    build_ipa(tmp_path / "app.ipa")
    unknown = str(uuid.uuid4())
    env = emulator.imds_env() if endpoint == "imds" else emulator.app_service_env()
    run = as_identity(emulator, tmp_path, env, managed_identity_id=unknown)
    assert run.returncode == 2
    line = one_error(run)
    assert f"does not know the user-assigned managed identity with client-id {unknown}" in line
    said = "Identity not found" if endpoint == "imds" else "Unable to load the proper Managed"
    assert said in line and "check managed-identity-id" in line
    assert emulator.write_requests() == []
