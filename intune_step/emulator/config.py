"""Every knob of the emulator, in one frozen object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .fleet import FleetDevice
from .timing import StateTiming

READ_WRITE_ROLE = "DeviceManagementApps.ReadWrite.All"
READ_ROLE = "DeviceManagementApps.Read.All"
# Reading groups by name and assignment filters (directory.py); a test withholds one.
GROUP_READ_ROLE = "Group.Read.All"
FILTER_READ_ROLE = "DeviceManagementConfiguration.Read.All"

# Azurite's documented development account; its key is public by design.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@dataclass(frozen=True)
class ManagedIdentityConfig:
    """A managed identity of the emulated Azure machine (identity.py): the system-assigned one,
    or a user-assigned one the endpoint finds by client ID, object ID or resource ID."""

    client_id: str
    object_id: str  # the service principal: the tokens' oid and sub
    resource_id: str | None = None
    system_assigned: bool = False
    # The Graph app roles granted to its service principal.
    roles: tuple[str, ...] = (READ_WRITE_ROLE, READ_ROLE)


@dataclass(frozen=True)
class EmulatorConfig:
    """Settings for one emulator run. Every field has a default that mirrors the live service."""

    # Identity. None means "generate one" (GUIDs; a random secret).
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    # Token: lifetime, the app roles it carries, and its tid claim (None: the tenant).
    token_lifetime_s: int = 3599
    roles: tuple[str, ...] = (READ_WRITE_ROLE, READ_ROLE, GROUP_READ_ROLE, FILTER_READ_ROLE)
    token_tid: str | None = None
    require_roles: bool = True
    # Subjects accepted in federated (non-self-signed) client assertions, e.g.
    # "repo:owner/name:ref:refs/heads/main". Self-signed assertions need sub == client_id.
    federated_subjects: tuple[str, ...] = ()
    # Federated identity credentials as Entra keeps them: (issuer, subject), both matched
    # exactly and case-sensitively (Graph federatedIdentityCredential), e.g. GitHub's
    # ("https://token.actions.githubusercontent.com", "repo:o@1/r@2:ref:refs/heads/main") or
    # Azure DevOps' Entra-issued ("https://login.microsoftonline.com/<tenant>/v2.0",
    # "/eid1/c/pub/t/.../sc/<org id>/<connection id>") beside its older
    # ("https://vstoken.dev.azure.com/<org id>", "sc://org/project/connection").
    federated_credentials: tuple[tuple[str, str], ...] = ()
    # Certificates uploaded to the app registration (PEM). When any is set, or a trusted
    # subject, self-signed assertions must be signed by one of them (by x5t/x5t#S256), or by an
    # x5c leaf whose subject (RFC 4514) is trusted (subject name + issuer auth). Empty: the
    # signature is not checked.
    client_certificates: tuple[str, ...] = ()
    trusted_certificate_subjects: tuple[str, ...] = ()
    # The machine's managed identities, served on a plain-http loopback port like IMDS
    # (identity.py); with none (and identity_endpoint False) that port is not opened.
    managed_identities: tuple[ManagedIdentityConfig, ...] = ()
    identity_endpoint: bool = False  # open it anyway: a machine without identities
    identity_header: str | None = None  # App Service's IDENTITY_HEADER; None: generated
    identity_port: int = 0

    # State machines: how many GETs still see the pending state; or, with ``timing``, how
    # long each state takes, drawn from a distribution (timing.py; the *_polls then count
    # for nothing).
    timing: StateTiming | None = None
    upload_uri_pending_polls: int = 1
    commit_pending_polls: int = 1
    publish_pending_polls: int = 1
    renew_pending_polls: int = 1
    sas_lifetime_s: int = 900
    # A renewal issues a new sig; the old one then fails. False: keep the sig, extend expiry.
    renew_rotates_sig: bool = True

    # Status codes that differ between the docs and the observed service
    # (docs/protocol.md, "Status codes").
    commit_status: int = 200  # 204 documented
    assign_status: int = 200  # 204 documented
    renew_status: int = 204
    patch_status: int = 204  # 200 returns the entity
    # PATCH committedContentVersion gets 400 "An error has occurred" this long after a commit.
    patch_cooldown_s: float = 0.0
    # False: any LOB cast is accepted on content sub-resources, as the live service tolerates.
    strict_casts: bool = False
    # The docs say an app cannot be assigned before it is published.
    require_published_for_assign: bool = True
    max_file_size: int | None = None
    # Rules Graph is not known to have (docs/protocol.md, "Required properties"), off by
    # default: version numbers required on create, and an iOS app whose provisioning profile
    # has expired refused.
    require_version_numbers: bool = False
    refuse_expired_profile: bool = False
    page_size: int = 100
    # The documented relationship limits (docs/protocol.md, "Relationships"): apps in one
    # supersedence graph, and in one app's dependency graph with the app itself.
    supersedence_node_limit: int = 10
    dependency_node_limit: int = 100

    # The simulated fleet (emulator/fleet.py) that installs assigned builds, the speed of its
    # clock (simulated seconds per real second), the export job reads that see it in progress,
    # and how long its download URL lives.
    fleet: tuple[FleetDevice, ...] = ()
    fleet_time_scale: float = 1.0
    report_pending_polls: int = 1
    report_url_lifetime_s: int = 3600
    # Throttling per tenant and app over a sliding window (docs/protocol.md, "Throttling and
    # transient errors": Intune documents 1000 requests and 100 writes per 20 s). None: off.
    throttle_requests: int | None = None
    throttle_writes: int | None = None
    throttle_window_s: float = 20.0

    # Where ca.pem, certificates and blob blocks live. None: a temporary directory.
    # A str is accepted too and made a Path by __post_init__.
    state_dir: Path | str | None = None
    login_port: int = 0
    graph_port: int = 0
    blob_port: int = 0
    host: str = "127.0.0.1"

    # Simulated network on the blob listener (benchmarks).
    blob_latency_s: float = 0.0
    blob_bandwidth_bps: int | None = None

    # "azurite": SAS URLs point at Azurite. With azurite_url None the emulator starts Azurite
    # itself (azurite_bin or ./node_modules/.bin/azurite-blob or PATH).
    blob_backend: Literal["builtin", "azurite"] = "builtin"
    azurite_url: str | None = None
    azurite_account: str = AZURITE_ACCOUNT
    azurite_key: str = AZURITE_KEY
    azurite_bin: str | None = None

    def __post_init__(self) -> None:
        # Fail at construction, not deep inside a request thread.
        if self.blob_backend not in ("builtin", "azurite"):
            raise ValueError(
                f"blob_backend must be 'builtin' or 'azurite', not {self.blob_backend!r}"
            )
        for name in ("commit_status", "assign_status", "renew_status", "patch_status"):
            if getattr(self, name) not in (200, 204):
                raise ValueError(f"{name} must be 200 or 204")
        if self.page_size < 1 or self.token_lifetime_s < 1 or self.sas_lifetime_s < 1:
            raise ValueError("page_size, token_lifetime_s and sas_lifetime_s must be positive")
        if self.client_certificates:
            from .assertions import load_certificates

            load_certificates(self.client_certificates)  # ValueError now, not per request
        if self.state_dir is not None and not isinstance(self.state_dir, Path):
            object.__setattr__(self, "state_dir", Path(self.state_dir))
