"""One frozen settings object, built from whatever source the run has.

The CLI, env vars and every CI adapter produce the same raw mapping ``{input-name: text}``
(names from action.yml); :func:`build_settings` validates it once. An organisation's
Intune setting (Setting Name, Client ID, Client Secret, Auth URL) maps onto the first four
fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from intune_step.config.clouds import PUBLIC_AUDIENCE, Cloud, known_login_hosts, resolve_cloud
from intune_step.config.credentials import (
    MANAGED_IDENTITY,
    MANAGED_IDENTITY_FEDERATION,
    IdentityRef,
    choose_credential,
    credential_fields,
)
from intune_step.config.text import GUID, clean, parse_bool
from intune_step.errors import SettingsError

TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")
GRAPH_VERSIONS = ("beta", "v1.0")
DEFAULT_SETTING_NAME = "default"  # the setting-name when none is given


@dataclass(frozen=True)
class Settings:
    """Where and as whom to publish. The secret never appears in repr()."""

    setting_name: str
    client_id: str
    client_secret: str = field(repr=False)
    auth_url: str
    authority: str  # https://{login-host}/{tenant}, what MSAL wants
    tenant: str
    graph_url: str  # without version
    portal_url: str | None  # Intune admin center of the cloud, None for other hosts
    graph_version: str = "beta"
    # Credentials (credentials.py): which one signs in, and its material or where to find it.
    credential: str = "secret"  # or certificate, github-oidc, azure-devops-oidc, federated-token
    certificate: str | None = field(default=None, repr=False)  # PEM text or base64 of a PFX
    certificate_file: Path | None = None
    certificate_password: str | None = field(default=None, repr=False)
    send_certificate_chain: bool = False  # x5c: subject name + issuer auth
    federated_token_env: str | None = None
    federated_token_file: Path | None = None
    service_connection_id: str | None = None
    # managed-identity(-federation): the user-assigned identity; None is the system-assigned one.
    managed_identity: IdentityRef | None = None
    # The cloud of auth-url (clouds.py), its token-exchange audience, and the guards' tenant.
    cloud: str | None = None
    federated_audience: str = PUBLIC_AUDIENCE
    expected_tenant: str | None = None
    settings_file: Path | None = None  # the named-settings file the setting came from

    @property
    def scope(self) -> str:
        return f"{self.graph_url}/.default"

    @property
    def principal(self) -> str:
        """Who signs in, for the log: the app registration, or the runner's managed identity."""
        if self.credential != MANAGED_IDENTITY:
            return self.client_id
        if self.managed_identity is None:
            return "the system-assigned managed identity"
        return self.managed_identity.describe()

    def describe(self) -> str:
        """One log line: which setting, tenant, cloud and Graph (never a secret)."""
        cloud = f" ({self.cloud} cloud)" if self.cloud else ""
        return (f"Setting '{self.setting_name}': tenant {self.tenant}{cloud}, "
                f"Graph {self.graph_url}/{self.graph_version}")


def parse_auth_url(auth_url: str) -> tuple[str, str, str]:
    """Return (authority, tenant, login host) for a token URL or a bare authority."""
    parts = urlsplit(auth_url)
    fix = "use https://login.microsoftonline.com/<tenant-id>/oauth2/v2.0/token"
    if parts.scheme != "https":
        raise SettingsError(f"auth-url must use https, got {parts.scheme or 'no'} scheme", fix=fix)
    if not parts.hostname:
        raise SettingsError("auth-url has no host", fix=fix)
    if parts.query or parts.fragment:
        raise SettingsError("auth-url must not carry a query or fragment", fix=fix)
    segments = [s for s in parts.path.split("/") if s]
    is_token_url = len(segments) == 4 and segments[1:] == ["oauth2", "v2.0", "token"]
    if len(segments) != 1 and not is_token_url:
        raise SettingsError(
            f"auth-url path {parts.path!r} is not /<tenant>/oauth2/v2.0/token", fix=fix
        )
    tenant = segments[0]
    if not TENANT.match(tenant) or tenant.lower() in ("oauth2", "common", "organizations"):
        raise SettingsError(f"auth-url names no usable tenant ({tenant!r})", fix=fix)
    host = parts.netloc
    return f"https://{host}/{tenant}", tenant, parts.hostname


def _graph_url(raw_graph: str | None, login_host: str) -> tuple[str, Cloud | None]:
    if raw_graph:
        parts = urlsplit(raw_graph)
        if parts.scheme != "https" or not parts.hostname:
            raise SettingsError(
                f"graph-url must be an https URL, got {raw_graph!r}",
                fix="use e.g. https://graph.microsoft.com (no version segment)",
            )
        path = parts.path.rstrip("/")
        if path.endswith(GRAPH_VERSIONS):
            raise SettingsError(
                "graph-url must not include the API version",
                fix=f"drop {path.rsplit('/', 1)[-1]!r} from graph-url",
            )
        # The login host decides the cloud; a Graph host of another cloud is refused.
        return f"https://{parts.netloc}{path}", resolve_cloud(login_host, parts.hostname)
    cloud = resolve_cloud(login_host, None)
    if cloud is None:
        raise SettingsError(
            f"auth-url's host {login_host} is not a known Entra login host "
            f"({known_login_hosts()})",
            fix="correct the host in auth-url; only for a private test service (an emulator) "
                "set graph-url to its Graph URL",
        )
    return cloud.graph_url, cloud


def build_settings(raw: Mapping[str, str | None],
                   environ: Mapping[str, str] | None = None) -> Settings:
    """Validate the credential and target fields; every problem names its fix.

    ``environ`` is the job's environment: a GitHub job that may mint OIDC tokens needs no
    secret (credentials.py).
    """
    env = environ if environ is not None else {}
    kind = choose_credential(raw, env)
    no_secret = kind is None or (kind == "secret" and not clean(raw, "client-secret"))
    as_identity = kind == MANAGED_IDENTITY  # no app registration: the identity signs in
    if as_identity and clean(raw, "client-id"):
        raise SettingsError(
            "client-id names an app registration, but credential managed-identity signs in as "
            "the runner's managed identity itself",
            fix="drop client-id (a user-assigned identity goes in managed-identity-id), or set "
                f"credential: {MANAGED_IDENTITY_FEDERATION} to sign in as that app registration "
                "with the identity as its credential")
    missing = [name for name in ("client-id", "client-secret", "auth-url")
               if (no_secret if name == "client-secret"
                   else not (as_identity and name == "client-id") and not clean(raw, name))]
    if missing:
        fix = "pass them as action inputs (from secrets), CLI options or INTUNE_* variables"
        if no_secret:
            fix += ("; instead of client-secret: certificate, federated-token-env/-file, "
                    "(GitHub) `permissions: {id-token: write}` for OIDC, or credential: "
                    "managed-identity on an Azure runner")
        raise SettingsError("missing " + ", ".join(missing), fix=fix)
    client_id = clean(raw, "client-id") or ""
    if not as_identity and not GUID.match(client_id):
        raise SettingsError(
            "client-id is not a GUID",
            fix="use the Application (client) ID from the app registration's Overview page",
        )
    auth_url = clean(raw, "auth-url") or ""
    authority, tenant, login_host = parse_auth_url(auth_url)
    graph_url, cloud = _graph_url(clean(raw, "graph-url"), login_host)
    expected_tenant = clean(raw, "expected-tenant")
    if expected_tenant and not GUID.match(expected_tenant):
        raise SettingsError(
            "expected-tenant is not a GUID (the token's tenant is always an ID)",
            fix="use the Tenant ID from the Entra admin center's Overview page",
        )
    settings_file = clean(raw, "settings-file")
    graph_version = clean(raw, "graph-version") or "beta"
    if graph_version not in GRAPH_VERSIONS:
        raise SettingsError(f"graph-version must be beta or v1.0, not {graph_version!r}")
    return Settings(
        setting_name=clean(raw, "setting-name") or DEFAULT_SETTING_NAME,
        client_id=client_id,
        client_secret=clean(raw, "client-secret") or "",
        auth_url=auth_url,
        authority=authority,
        tenant=tenant,
        graph_url=graph_url,
        portal_url=cloud.portal_url if cloud else None,
        graph_version=graph_version,
        **credential_fields(kind, raw),
        certificate_password=clean(raw, "certificate-password"),
        send_certificate_chain=parse_bool("send-certificate-chain",
                                          clean(raw, "send-certificate-chain")),
        cloud=cloud.name if cloud else None,
        federated_audience=cloud.token_exchange_audience if cloud else PUBLIC_AUDIENCE,
        expected_tenant=expected_tenant,
        settings_file=Path(settings_file) if settings_file else None,
    )
