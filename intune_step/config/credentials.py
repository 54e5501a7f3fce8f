"""Which credential signs in, chosen and checked from the inputs before anything runs.

Only the choice and the names of its material live here; reading the material and building
the MSAL credential is ``auth/credentials.py``'s work.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intune_step.config.text import GUID, clean
from intune_step.errors import SettingsError

MANAGED_IDENTITY = "managed-identity"  # sign in as the runner's managed identity itself
# Sign in as an app registration that trusts the runner's managed identity (its token for
# api://AzureADTokenExchange is the client assertion): another tenant, no secret.
MANAGED_IDENTITY_FEDERATION = "managed-identity-federation"
MANAGED_KINDS = (MANAGED_IDENTITY, MANAGED_IDENTITY_FEDERATION)
CREDENTIALS = ("secret", "certificate", "github-oidc", "azure-devops-oidc", "federated-token",
               *MANAGED_KINDS)
# Inputs whose value names the credential they belong to.
KIND_OF_INPUT = {
    "client-secret": "secret",
    "certificate": "certificate",
    "certificate-file": "certificate",
    "federated-token-env": "federated-token",
    "federated-token-file": "federated-token",
    "service-connection-id": "azure-devops-oidc",
}
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The Azure resource ID of a user-assigned managed identity.
IDENTITY_RESOURCE_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/"
    r"Microsoft\.ManagedIdentity/userAssignedIdentities/[^/]+$", re.IGNORECASE)
IDENTITY_FORMS = ("client-id", "object-id", "resource-id")
IDENTITY_FIX = ("write the identity's client ID (a GUID, or client-id:<GUID>), object-id:<GUID> "
                "or its resource ID (/subscriptions/.../userAssignedIdentities/<name>); leave it "
                "empty for the system-assigned identity")


@dataclass(frozen=True)
class IdentityRef:
    """A user-assigned managed identity, named one of the three ways the endpoints take."""

    form: str  # client-id | object-id | resource-id
    value: str

    def describe(self) -> str:
        return f"the user-assigned managed identity with {self.form} {self.value}"


def parse_identity(text: str) -> IdentityRef:
    """``managed-identity-id``: a bare GUID is a client ID (what Azure shows first and the SDKs
    take), ``object-id:`` must be said, and a resource ID is recognised by its shape."""
    form, sep, value = text.partition(":")
    if not sep or form not in IDENTITY_FORMS:
        form, value = ("resource-id" if text.startswith("/") else "client-id"), text
    value = value.strip()
    if form == "resource-id":
        if not IDENTITY_RESOURCE_ID.match(value):
            raise SettingsError(f"managed-identity-id {value!r} is not the resource ID of a "
                                "user-assigned managed identity", fix=IDENTITY_FIX)
    elif not GUID.match(value):
        raise SettingsError(f"managed-identity-id: the {form} {value!r} is not a GUID",
                            fix=IDENTITY_FIX)
    return IdentityRef(form, value)


def choose_credential(raw: Mapping[str, str | None], environ: Mapping[str, str]) -> str | None:
    """Which credential the inputs ask for; None when they give none at all.

    `credential` decides when set; otherwise the one kind whose inputs are given; otherwise a
    GitHub job that may mint OIDC tokens uses them.
    """
    given = [name for name in KIND_OF_INPUT if clean(raw, name)]
    chosen = clean(raw, "credential")
    if chosen and chosen != "auto":
        if chosen not in CREDENTIALS:
            raise SettingsError(f"credential must be one of auto, {', '.join(CREDENTIALS)}; "
                                f"not {chosen!r}", fix="set credential: auto to choose by inputs")
        kind = chosen
    else:
        kinds = {KIND_OF_INPUT[name] for name in given}
        if len(kinds) > 1:
            raise SettingsError(f"more than one credential is given ({', '.join(given)})",
                                fix="keep one, or set credential: to the one to sign in with")
        if kinds:
            kind = kinds.pop()
        elif environ.get("ACTIONS_ID_TOKEN_REQUEST_URL", "").strip():
            kind = "github-oidc"
        else:
            return None
    _check_material(kind, raw)
    if clean(raw, "managed-identity-id") and kind not in MANAGED_KINDS:
        raise SettingsError(
            f"managed-identity-id is given, but the credential is {kind}",
            fix=f"set credential: {MANAGED_IDENTITY} (sign in as the identity) or "
                f"{MANAGED_IDENTITY_FEDERATION} (as an app registration that trusts it)")
    return kind


def _check_material(kind: str, raw: Mapping[str, str | None]) -> None:
    pairs = {"certificate": ("certificate", "certificate-file"),
             "federated-token": ("federated-token-env", "federated-token-file")}
    if kind in pairs:
        first, second = pairs[kind]
        if clean(raw, first) and clean(raw, second):
            raise SettingsError(f"both {first} and {second} are set", fix="keep one of them")
        if not clean(raw, first) and not clean(raw, second):
            raise SettingsError(f"credential {kind} needs {first} or {second}",
                                fix=f"set {first} or {second}")
    env = clean(raw, "federated-token-env")
    if kind == "federated-token" and env and not ENV_NAME.match(env):
        raise SettingsError(f"federated-token-env must name an environment variable, not {env!r}",
                            fix="set it to the variable's name, e.g. AZURE_FEDERATED_TOKEN")
    if kind == "azure-devops-oidc":
        connection = clean(raw, "service-connection-id")
        if not connection or not GUID.match(connection):
            raise SettingsError(
                "credential azure-devops-oidc needs service-connection-id (a GUID)",
                fix="copy the ID of the workload identity federation service connection "
                    "(Project settings > Service connections > it > resourceId in its URL)")


def credential_fields(kind: str | None, raw: Mapping[str, str | None]) -> dict[str, Any]:
    """The Settings fields of the chosen credential (only its own material is kept)."""
    fields: dict[str, Any] = {"credential": kind or "secret"}
    if kind == "certificate":
        file = clean(raw, "certificate-file")
        fields.update(certificate=clean(raw, "certificate"),
                      certificate_file=Path(file) if file else None)
    elif kind == "federated-token":
        file = clean(raw, "federated-token-file")
        fields.update(federated_token_env=clean(raw, "federated-token-env"),
                      federated_token_file=Path(file) if file else None)
    elif kind == "azure-devops-oidc":
        fields["service_connection_id"] = clean(raw, "service-connection-id")
    elif kind in MANAGED_KINDS:
        named = clean(raw, "managed-identity-id")
        fields["managed_identity"] = parse_identity(named) if named else None
    return fields


