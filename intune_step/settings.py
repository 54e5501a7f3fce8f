"""One frozen settings object, built from whatever source the run has.

The CLI, env vars and every CI adapter produce the same raw mapping ``{input-name: text}``
(names from action.yml); :func:`build_settings` validates it once. The seed's credential
setting (Setting Name, Client ID, Client Secret, Auth URL) maps onto the first four fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from intune_step.assignments import Assignment, parse_assignments
from intune_step.clouds import PUBLIC_AUDIENCE, Cloud, resolve_cloud
from intune_step.credentials import choose_credential, credential_fields
from intune_step.errors import SettingsError
from intune_step.files import names_a_list, resolve_files
from intune_step.overrides import options_from_inputs
from intune_step.win32 import Win32Config

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")
GRAPH_VERSIONS = ("beta", "v1.0")
TRUE_WORDS = ("true", "True", "TRUE")
FALSE_WORDS = ("false", "False", "FALSE", "")
DEFAULT_LOCK_TIMEOUT = 1800  # seconds to wait for another run publishing the same app
DEFAULT_MAX_PARALLEL, MAX_PARALLEL = 3, 10  # artifacts at once: Graph throttles writes per app


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
    # The cloud of auth-url (clouds.py), its token-exchange audience, and the guards' tenant.
    cloud: str | None = None
    federated_audience: str = PUBLIC_AUDIENCE
    expected_tenant: str | None = None
    settings_file: Path | None = None  # the named-settings file the setting came from

    @property
    def scope(self) -> str:
        return f"{self.graph_url}/.default"


@dataclass(frozen=True)
class PublishOptions:
    """What to publish and the metadata the user sets over what the file says."""

    file: Path  # the first (or only) artifact
    app_id: str | None = None
    display_name: str | None = None
    description: str | None = None
    publisher: str | None = None
    dry_run: bool = False
    # Safe re-runs, assignments and metadata (publish.py, assignments.py, lock.py).
    assignments: tuple[Assignment, ...] | None = None  # None: the input was not given
    replace_assignments: bool = False
    categories: tuple[str, ...] = ()
    scope_tags: tuple[str, ...] | None = None
    icon: Path | None = None
    allow_downgrade: bool = False
    lock_timeout: int = DEFAULT_LOCK_TIMEOUT
    # App-type inputs (overrides.py, win32.py): what the file cannot say, or says wrongly.
    win32: Win32Config | None = None
    bundle_id: str | None = None
    bundle_version: str | None = None
    macos_app_type: str = "pkg"  # pkg: macOSPkgApp; lob: macOSLobApp (a .pkg only)
    properties: Mapping[str, Any] = field(default_factory=dict)  # over the Graph body
    # Several artifacts in one run (files.py, batch.py): every one `file` names, in order.
    files: tuple[Path, ...] = ()
    several: bool = False  # `file` is a list or a pattern: outputs are JSON lists
    max_parallel: int = DEFAULT_MAX_PARALLEL  # artifacts published at the same time


def _clean(raw: Mapping[str, str | None], name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    value = value.strip()
    if any("\ud800" <= char <= "\udfff" for char in value):
        # Bytes that are not UTF-8 reach Python as lone surrogates (a Latin-1 pipeline
        # variable); Graph takes UTF-8 JSON only. The value is not echoed: it may be a secret.
        raise SettingsError(f"{name} is not valid UTF-8 text",
                            fix=f"pass {name} UTF-8 encoded (check the pipeline's file and "
                            "variable encodings)")
    return value or None


def parse_bool(name: str, value: str | None) -> bool:
    """Strict YAML-1.2-core booleans, as GitHub's toolkit reads them."""
    if value is None or value in FALSE_WORDS:
        return False
    if value in TRUE_WORDS:
        return True
    raise SettingsError(f"{name} must be true or false, not {value!r}", fix=f"set {name}: true")


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
            f"graph-url is needed: {login_host} is not a known Microsoft login host",
            fix="set graph-url to the Graph base URL of that environment",
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
    no_secret = kind is None or (kind == "secret" and not _clean(raw, "client-secret"))
    missing = [name for name in ("client-id", "client-secret", "auth-url")
               if (no_secret if name == "client-secret" else not _clean(raw, name))]
    if missing:
        fix = "pass them as action inputs (from secrets), CLI options or INTUNE_* variables"
        if no_secret:
            fix += ("; instead of client-secret: certificate, federated-token-env/-file, or "
                    "(GitHub) `permissions: {id-token: write}` for OIDC")
        raise SettingsError("missing " + ", ".join(missing), fix=fix)
    client_id = _clean(raw, "client-id") or ""
    if not GUID.match(client_id):
        raise SettingsError(
            "client-id is not a GUID",
            fix="use the Application (client) ID from the app registration's Overview page",
        )
    auth_url = _clean(raw, "auth-url") or ""
    authority, tenant, login_host = parse_auth_url(auth_url)
    graph_url, cloud = _graph_url(_clean(raw, "graph-url"), login_host)
    expected_tenant = _clean(raw, "expected-tenant")
    if expected_tenant and not GUID.match(expected_tenant):
        raise SettingsError(
            "expected-tenant is not a GUID (the token's tenant is always an ID)",
            fix="use the Tenant ID from the Entra admin center's Overview page",
        )
    settings_file = _clean(raw, "settings-file")
    graph_version = _clean(raw, "graph-version") or "beta"
    if graph_version not in GRAPH_VERSIONS:
        raise SettingsError(f"graph-version must be beta or v1.0, not {graph_version!r}")
    return Settings(
        setting_name=_clean(raw, "setting-name") or "default",
        client_id=client_id,
        client_secret=_clean(raw, "client-secret") or "",
        auth_url=auth_url,
        authority=authority,
        tenant=tenant,
        graph_url=graph_url,
        portal_url=cloud.portal_url if cloud else None,
        graph_version=graph_version,
        **credential_fields(kind, raw),
        certificate_password=_clean(raw, "certificate-password"),
        send_certificate_chain=parse_bool("send-certificate-chain",
                                          _clean(raw, "send-certificate-chain")),
        cloud=cloud.name if cloud else None,
        federated_audience=cloud.token_exchange_audience if cloud else PUBLIC_AUDIENCE,
        expected_tenant=expected_tenant,
        settings_file=Path(settings_file) if settings_file else None,
    )


def build_options(raw: Mapping[str, str | None], workspace: Path | None = None) -> PublishOptions:
    file_value = _clean(raw, "file") or ""
    files = resolve_files(file_value, workspace)
    app_id = _clean(raw, "app-id")
    if app_id and not GUID.match(app_id):
        raise SettingsError(
            f"app-id {app_id!r} is not a GUID",
            fix="copy the app's ID from the Intune admin center URL or a previous run's app-id",
        )
    return PublishOptions(
        file=files[0],
        files=files,
        several=names_a_list(file_value, workspace),
        max_parallel=_max_parallel(_clean(raw, "max-parallel")),
        app_id=app_id,
        display_name=_clean(raw, "display-name"),
        description=_clean(raw, "description"),
        publisher=_clean(raw, "publisher"),
        dry_run=parse_bool("dry-run", _clean(raw, "dry-run")),
        **_rerun_options(raw, workspace),
        **options_from_inputs(raw, workspace),
    )


def _max_parallel(text: str | None) -> int:
    if text is None:
        return DEFAULT_MAX_PARALLEL
    if not text.isdigit() or not 1 <= int(text) <= MAX_PARALLEL:
        raise SettingsError(f"max-parallel must be a whole number from 1 to {MAX_PARALLEL}, "
                            f"not {text!r}", fix=f"set max-parallel: {DEFAULT_MAX_PARALLEL}")
    return int(text)


def _rerun_options(raw: Mapping[str, str | None], workspace: Path | None) -> dict[str, object]:
    """The safe-re-run, assignment and metadata inputs, validated before any network call."""
    icon = _clean(raw, "icon")
    icon_path = Path(icon) if icon else None
    if icon_path is not None and workspace is not None and not icon_path.is_absolute():
        icon_path = workspace / icon_path
    scope_tags = _scope_tags(_clean(raw, "scope-tags"), _clean(raw, "graph-version") or "beta")
    timeout = _clean(raw, "lock-timeout")
    if timeout is not None and not timeout.isdigit():
        raise SettingsError(f"lock-timeout must be a whole number of seconds, not {timeout!r}",
                            fix="set lock-timeout: 1800 (0 stops at once when another run "
                            "is publishing the same app)")
    return {
        "assignments": parse_assignments(raw.get("assignments")),
        "replace_assignments": parse_bool("replace-assignments",
                                          _clean(raw, "replace-assignments")),
        "categories": _names(_clean(raw, "categories")),
        "scope_tags": scope_tags,
        "icon": icon_path,
        "allow_downgrade": parse_bool("allow-downgrade", _clean(raw, "allow-downgrade")),
        "lock_timeout": int(timeout) if timeout is not None else DEFAULT_LOCK_TIMEOUT,
    }


def _names(text: str | None) -> tuple[str, ...]:
    """Category names: one per line, or comma-separated on one line; duplicates dropped."""
    if not text:
        return ()
    parts = text.splitlines() if "\n" in text else text.split(",")
    names: dict[str, str] = {}
    for part in parts:
        name = part.strip().lstrip("-").strip()  # a YAML-style "- name" line works too
        if name:
            names.setdefault(name.casefold(), name)
    return tuple(names.values())


def _scope_tags(text: str | None, graph_version: str) -> tuple[str, ...] | None:
    if not text:
        return None
    tags = tuple(dict.fromkeys(t for t in re.split(r"[\s,]+", text) if t))
    bad = [t for t in tags if not t.isdigit()]
    if bad:
        raise SettingsError(f"scope-tags must be scope tag IDs (numbers), not {', '.join(bad)}",
                            fix="use the IDs from Intune > Tenant administration > Roles > "
                            "Scope tags (0 is Default)")
    if graph_version != "beta":
        raise SettingsError("scope-tags need graph-version beta (roleScopeTagIds is beta-only)",
                            fix="set graph-version: beta, or remove scope-tags")
    return tags
