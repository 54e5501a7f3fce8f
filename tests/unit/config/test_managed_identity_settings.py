"""The managed identity credentials as inputs and in the named-settings file."""

from __future__ import annotations

from pathlib import Path

import pytest

from intune_step.config.credentials import IdentityRef, parse_identity
from intune_step.config.named_settings import apply_named_setting
from intune_step.config.settings import build_settings
from intune_step.errors import SettingsError
from intune_step.report import RecordingReporter

GUID = "dddddddd-2222-3333-4444-555555555555"
APP = "11111111-2222-3333-4444-555555555555"
RESOURCE = ("/subscriptions/eeeeeeee-2222-3333-4444-555555555555/resourceGroups/ci/providers/"
            "Microsoft.ManagedIdentity/userAssignedIdentities/runner")
AUTH = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"


@pytest.mark.parametrize(("text", "ref"), [
    (GUID, IdentityRef("client-id", GUID)),
    (f"client-id:{GUID}", IdentityRef("client-id", GUID)),
    (f"object-id: {GUID}", IdentityRef("object-id", GUID)),
    (RESOURCE, IdentityRef("resource-id", RESOURCE)),
    (f"resource-id:{RESOURCE.lower()}", IdentityRef("resource-id", RESOURCE.lower())),
])
def test_the_three_ways_to_name_a_user_assigned_identity(text: str, ref: IdentityRef) -> None:
    assert parse_identity(text) == ref


@pytest.mark.parametrize("text", [
    "runner-identity", "object-id:runner", f"principal-id:{GUID}", "/subscriptions/x/rg",
    RESOURCE.replace("userAssignedIdentities", "virtualMachines"),
])
def test_anything_else_is_refused_with_the_forms(text: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_identity(text)
    assert "object-id:<GUID>" in (caught.value.fix or "")


def test_the_identity_itself_needs_no_app_registration() -> None:
    settings = build_settings({"credential": "managed-identity", "auth-url": AUTH})
    assert settings.credential == "managed-identity" and settings.managed_identity is None
    assert settings.principal == "the system-assigned managed identity"
    named = build_settings({"credential": "managed-identity", "auth-url": AUTH,
                            "managed-identity-id": f"object-id:{GUID}"})
    assert named.managed_identity == IdentityRef("object-id", GUID)
    assert named.principal.endswith(f"object-id {GUID}")


def test_a_client_id_beside_the_identity_itself_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        build_settings({"credential": "managed-identity", "auth-url": AUTH, "client-id": APP})
    assert "managed-identity-federation" in (caught.value.fix or "")


def test_the_federated_form_signs_in_as_an_app_registration() -> None:
    settings = build_settings({"credential": "managed-identity-federation", "auth-url": AUTH,
                               "client-id": APP, "managed-identity-id": GUID})
    assert settings.client_id == APP and settings.principal == APP
    assert settings.managed_identity == IdentityRef("client-id", GUID)
    with pytest.raises(SettingsError, match="missing client-id"):
        build_settings({"credential": "managed-identity-federation", "auth-url": AUTH})


def test_an_identity_for_another_credential_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        build_settings({"client-id": APP, "client-secret": "s", "auth-url": AUTH,
                        "managed-identity-id": GUID})
    assert "credential: managed-identity" in (caught.value.fix or "")


def test_auto_never_picks_a_managed_identity() -> None:
    with pytest.raises(SettingsError, match="missing"):
        build_settings({"auth-url": AUTH}, {"IDENTITY_ENDPOINT": "http://localhost:42356"})


def test_the_settings_file_names_the_identity(tmp_path: Path) -> None:
    (tmp_path / "intune-step.yml").write_text(
        "settings:\n"
        "  azure-runner:\n"
        f"    auth-url: {AUTH}\n"
        "    credential: managed-identity\n"
        f"    managed-identity-id: {RESOURCE}\n")
    raw = apply_named_setting({"setting-name": "azure-runner"}, tmp_path, {},
                              RecordingReporter())
    settings = build_settings(raw)
    assert settings.managed_identity == IdentityRef("resource-id", RESOURCE)
    # The pipeline may name another identity of the same kind ...
    raw = apply_named_setting({"setting-name": "azure-runner", "managed-identity-id": GUID},
                              tmp_path, {}, RecordingReporter())
    assert build_settings(raw).managed_identity == IdentityRef("client-id", GUID)
    # ... and a credential it gives replaces the entry's whole, identity included.
    raw = apply_named_setting({"setting-name": "azure-runner", "credential": "managed-identity"},
                              tmp_path, {}, RecordingReporter())
    assert build_settings(raw).managed_identity is None
