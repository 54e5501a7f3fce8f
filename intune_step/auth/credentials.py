"""Build the client credential MSAL signs in with: a secret, a certificate or a federated token
(a managed identity's: managed_identity.py).

The settings have already decided *which* credential (``Settings.credential``); this module
reads its material (files, variables, the CI's OIDC endpoint) and masks every secret it
derives before anything could print it. Nothing here talks to Entra.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from intune_step.auth.identity_endpoints import ManagedIdentity
from intune_step.auth.oidc import (
    FETCH_RETRY,
    AzureDevOpsOidc,
    EnvToken,
    FederatedToken,
    FileToken,
    GitHubOidc,
)
from intune_step.config.paths import in_workspace
from intune_step.config.settings import Settings
from intune_step.errors import SettingsError
from intune_step.report import Reporter
from intune_step.transport.retry import RetryPolicy


@dataclass(frozen=True)
class ClientCredential:
    kind: str
    msal: str | dict[str, Any] = field(repr=False)  # MSAL's client_credential
    description: str  # for the log: never a secret
    federated: FederatedToken | None = None
    identity: ManagedIdentity | None = None  # the runner's managed identity, when it signs in


def secret_credential(settings: Settings) -> ClientCredential:
    return ClientCredential("secret", settings.client_secret, "client secret")


def build_credential(settings: Settings, http: httpx.Client, reporter: Reporter,
                     environ: Mapping[str, str], workspace: Path,
                     retry: RetryPolicy = FETCH_RETRY) -> ClientCredential:
    """The credential ``settings`` chose; ``retry`` is for fetching a CI's OIDC token.

    A managed identity's credential comes from ``managed_identity.managed_credential``."""
    kind = settings.credential
    if kind == "secret":
        reporter.mask(settings.client_secret)
        return secret_credential(settings)
    if kind == "certificate":
        return _certificate(settings, reporter, workspace)
    source: FederatedToken
    if kind == "github-oidc":
        source = GitHubOidc(http, environ, settings.federated_audience, reporter, retry)
        description = f"GitHub Actions OIDC token (audience {settings.federated_audience})"
    elif kind == "azure-devops-oidc":
        source = AzureDevOpsOidc(http, environ, settings.service_connection_id or "", reporter,
                                 retry)
        description = f"Azure DevOps service connection {settings.service_connection_id}"
    elif settings.federated_token_env:
        source = EnvToken(settings.federated_token_env, environ, reporter)
        description = f"federated token in ${settings.federated_token_env}"
    elif settings.federated_token_file:
        path = in_workspace(settings.federated_token_file, workspace)
        source = FileToken(path, reporter)
        description = f"federated token in {path}"
    else:  # settings validation makes this unreachable
        raise SettingsError(f"credential {kind} has nothing to sign in with")
    # A callable: MSAL asks for a fresh assertion on every token request.
    return ClientCredential(kind, {"client_assertion": source}, description, source)


def _certificate(settings: Settings, reporter: Reporter, workspace: Path) -> ClientCredential:
    # Only a run with a certificate pays for the x509 code.
    from intune_step.auth.certificates import decode_inline, load_certificate

    password = settings.certificate_password
    if password:
        reporter.mask(password)
    if settings.certificate:
        reporter.mask(settings.certificate)
        data = decode_inline(settings.certificate, "the certificate input")
        source = "the certificate input"
    else:
        assert settings.certificate_file is not None  # settings validation guarantees one
        path = in_workspace(settings.certificate_file, workspace)
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
