"""Build the client credential MSAL signs in with: a secret, a certificate or a federated token.

Settings has already decided *which* credential (settings.credential); this module reads its
material (files, variables, the CI's OIDC endpoint) and masks every secret it derives before
anything could print it. Nothing here talks to Entra.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from intune_step.certificates import decode_inline, load_certificate
from intune_step.errors import SettingsError
from intune_step.events import Reporter
from intune_step.oidc import AzureDevOpsOidc, EnvToken, FederatedToken, FileToken, GitHubOidc

if TYPE_CHECKING:  # settings.py imports this module to choose the credential
    from intune_step.settings import Settings

CREDENTIALS = ("secret", "certificate", "github-oidc", "azure-devops-oidc", "federated-token")
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
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class ClientCredential:
    kind: str
    msal: str | dict[str, Any] = field(repr=False)  # MSAL's client_credential
    description: str  # for the log: never a secret
    federated: FederatedToken | None = None


def _text(raw: Mapping[str, str | None], name: str) -> str | None:
    value = raw.get(name)
    return value.strip() or None if value else None


def choose_credential(raw: Mapping[str, str | None], environ: Mapping[str, str]) -> str | None:
    """Which credential the inputs ask for; None when they give none at all.

    `credential` decides when set; otherwise the one kind whose inputs are given; otherwise a
    GitHub job that may mint OIDC tokens uses them.
    """
    given = [name for name in KIND_OF_INPUT if _text(raw, name)]
    chosen = _text(raw, "credential")
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
    return kind


def _check_material(kind: str, raw: Mapping[str, str | None]) -> None:
    pairs = {"certificate": ("certificate", "certificate-file"),
             "federated-token": ("federated-token-env", "federated-token-file")}
    if kind in pairs:
        first, second = pairs[kind]
        if _text(raw, first) and _text(raw, second):
            raise SettingsError(f"both {first} and {second} are set", fix="keep one of them")
        if not _text(raw, first) and not _text(raw, second):
            raise SettingsError(f"credential {kind} needs {first} or {second}",
                                fix=f"set {first} or {second}")
    env = _text(raw, "federated-token-env")
    if kind == "federated-token" and env and not ENV_NAME.match(env):
        raise SettingsError(f"federated-token-env must name an environment variable, not {env!r}",
                            fix="set it to the variable's name, e.g. AZURE_FEDERATED_TOKEN")
    if kind == "azure-devops-oidc":
        connection = _text(raw, "service-connection-id")
        if not connection or not GUID.match(connection):
            raise SettingsError(
                "credential azure-devops-oidc needs service-connection-id (a GUID)",
                fix="copy the ID of the workload identity federation service connection "
                    "(Project settings > Service connections > it > resourceId in its URL)")


def credential_fields(kind: str | None, raw: Mapping[str, str | None]) -> dict[str, Any]:
    """The Settings fields of the chosen credential (only its own material is kept)."""
    fields: dict[str, Any] = {"credential": kind or "secret"}
    if kind == "certificate":
        file = _text(raw, "certificate-file")
        fields.update(certificate=_text(raw, "certificate"),
                      certificate_file=Path(file) if file else None)
    elif kind == "federated-token":
        file = _text(raw, "federated-token-file")
        fields.update(federated_token_env=_text(raw, "federated-token-env"),
                      federated_token_file=Path(file) if file else None)
    elif kind == "azure-devops-oidc":
        fields["service_connection_id"] = _text(raw, "service-connection-id")
    return fields


def secret_credential(settings: Settings) -> ClientCredential:
    return ClientCredential("secret", settings.client_secret, "client secret")


def build_credential(settings: Settings, http: httpx.Client, reporter: Reporter,
                     environ: Mapping[str, str], workspace: Path) -> ClientCredential:
    kind = settings.credential
    if kind == "secret":
        reporter.mask(settings.client_secret)
        return secret_credential(settings)
    if kind == "certificate":
        return _certificate(settings, reporter, workspace)
    source: FederatedToken
    if kind == "github-oidc":
        source = GitHubOidc(http, environ, settings.federated_audience, reporter)
        description = f"GitHub Actions OIDC token (audience {settings.federated_audience})"
    elif kind == "azure-devops-oidc":
        source = AzureDevOpsOidc(http, environ, settings.service_connection_id or "", reporter)
        description = f"Azure DevOps service connection {settings.service_connection_id}"
    elif settings.federated_token_env:
        source = EnvToken(settings.federated_token_env, environ, reporter)
        description = f"federated token in ${settings.federated_token_env}"
    elif settings.federated_token_file:
        path = _in_workspace(settings.federated_token_file, workspace)
        source = FileToken(path, reporter)
        description = f"federated token in {path}"
    else:  # settings validation makes this unreachable
        raise SettingsError(f"credential {kind} has nothing to sign in with")
    # A callable: MSAL asks for a fresh assertion on every token request.
    return ClientCredential(kind, {"client_assertion": source}, description, source)


def _certificate(settings: Settings, reporter: Reporter, workspace: Path) -> ClientCredential:
    password = settings.certificate_password
    if password:
        reporter.mask(password)
    if settings.certificate:
        reporter.mask(settings.certificate)
        data = decode_inline(settings.certificate, "the certificate input")
        source = "the certificate input"
    else:
        assert settings.certificate_file is not None  # settings validation guarantees one
        path = _in_workspace(settings.certificate_file, workspace)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise SettingsError(f"certificate-file {path} does not exist",
                                fix="check the path (relative paths start at the workspace)")\
                from None
        except OSError as exc:
            raise SettingsError(f"cannot read certificate-file {path}: {type(exc).__name__}",
                                fix="check the file's permissions") from None
        source = f"certificate-file {path.name}"
    cert = load_certificate(data, password, source)
    reporter.mask(cert.key_pem)
    if cert.expires_soon():
        reporter.warning(f"the client certificate expires on "
                         f"{cert.leaf.not_valid_after_utc:%Y-%m-%d}: upload a new one to the app "
                         "registration soon")
    description = f"certificate {cert.describe()}"
    if settings.send_certificate_chain:
        description += f"; sending its chain ({len(cert.chain)}) for subject name + issuer auth"
    return ClientCredential("certificate", cert.msal_credential(settings.send_certificate_chain),
                            description)


def _in_workspace(path: Path, workspace: Path) -> Path:
    return path if path.is_absolute() else workspace / path
