"""The Emulator: three TLS listeners (login, graph, blob) over one shared state."""

from __future__ import annotations

import copy
import dataclasses
import secrets
import shutil
import ssl
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from intune_step.crypto import decrypt_blob

from .azurite import AzuriteClient, AzuriteProcess, close_quietly, find_azurite_blob, start_azurite
from .backends import AzuriteBackend, BlobBackend, BuiltinBackend
from .blob import BlobService
from .blobstore import BlobStore
from .config import EmulatorConfig
from .content import COMMIT_SUCCESS
from .faults import FaultSet
from .fleet import Fleet, FleetDevice
from .graph import GraphService
from .identity import APP_SERVICE_PATH, IdentityService
from .login import LoginService
from .reports import ReportsApi
from .server import Listener, RequestRecord
from .state import ContentFile, State
from .timing import Lateness
from .tls import CertificateAuthority, server_context


class Emulator:
    """A local Intune: ``with Emulator(EmulatorConfig()) as emu: ...``.

    Everything a test needs is here: the URLs and credentials to hand to the client, the CA to
    trust, the recorded requests, the resulting apps, and fault switches.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.tenant_id = self.config.tenant_id or str(uuid.uuid4())
        self.client_id = self.config.client_id or str(uuid.uuid4())
        self.client_secret = self.config.client_secret or _secret()
        self.identity_header = self.config.identity_header or _secret()
        self.identity_url: str | None = None  # plain http, when the machine has identities
        self.faults = FaultSet()
        self._state = State(tuple(self.config.roles), self.config.timing)
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._azurite: AzuriteProcess | None = None
        self._own_dir = self.config.state_dir is None
        self.state_dir = Path(self.config.state_dir or tempfile.mkdtemp(prefix="intune-emu-"))
        self._graph: GraphService | None = None
        self.fleet = Fleet(self.config.fleet, self.config.fleet_time_scale)
        self._reports: ReportsApi | None = None
        self._backend: BlobBackend | None = None
        self._started = False

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> Emulator:
        if self._started:
            return self
        cfg = self.config
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._ca = CertificateAuthority.load_or_create(self.state_dir)
        pair = self._ca.issue(self.state_dir, "server", (cfg.host, "localhost"))
        context = server_context(pair)
        login, graph, blob = (
            Listener(cfg.host, port, context, self.faults, self._record)
            for port in (cfg.login_port, cfg.graph_port, cfg.blob_port)
        )
        self._listeners = [login, graph, blob]
        self.login_url = f"https://{cfg.host}:{login.port}"
        self.graph_url = f"https://{cfg.host}:{graph.port}"
        self.blob_url = f"https://{cfg.host}:{blob.port}"
        try:
            store = BlobStore(self.state_dir / "blobs")
            self._backend = self._make_backend(store)
            self._reports = ReportsApi(cfg, self._state, self.fleet, self.blob_url)
            self._graph = GraphService(
                cfg,
                self._state,
                self._backend,
                tenant_id=self.tenant_id,
                graph_url=self.graph_url,
                reports=self._reports,
            )
            login.start(
                LoginService(
                    cfg,
                    self._state,
                    tenant_id=self.tenant_id,
                    client_id=self.client_id,
                    client_secret=self.client_secret,
                    base_url=self.login_url,
                    graph_url=self.graph_url,
                )
            )
            graph.start(self._graph)
            blob.start(BlobService(cfg, self._state, store, self._reports.download))
            if cfg.managed_identities or cfg.identity_endpoint:
                self._start_identity()
        except BaseException:
            self.stop()
            raise
        self._started = True
        return self

    def _start_identity(self) -> None:
        cfg = self.config
        listener = Listener(cfg.host, cfg.identity_port, None, self.faults, self._record)
        self._listeners.append(listener)
        self.identity_url = f"http://{cfg.host}:{listener.port}"
        listener.start(IdentityService(cfg, self._state, tenant_id=self.tenant_id,
                                       issuer=self.issuer, graph_url=self.graph_url,
                                       header_secret=self.identity_header))

    def _make_backend(self, store: BlobStore) -> BlobBackend:
        cfg = self.config
        if cfg.blob_backend == "builtin":
            return BuiltinBackend(store, self.blob_url)
        url = cfg.azurite_url
        if url is None:
            exe = find_azurite_blob(cfg.azurite_bin)
            if exe is None:
                raise RuntimeError(
                    "blob_backend='azurite' needs azurite-blob: run `npm install --no-save "
                    "azurite` in the repository, or set azurite_url / azurite_bin"
                )
            self._azurite = start_azurite(
                exe, self._ca, self.state_dir, host=cfg.host, account=cfg.azurite_account
            )
            url = self._azurite.url
        client = AzuriteClient(url, cfg.azurite_account, cfg.azurite_key, self._ca.client_context())
        return AzuriteBackend(client)

    def stop(self) -> None:
        # In parallel: each listener's accept loop takes up to a poll interval to notice.
        stoppers = [threading.Thread(target=listener.stop) for listener in self._listeners]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        self._listeners = []
        close_quietly(self._azurite)
        self._azurite = None
        if self._own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        self._started = False

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what clients need ---------------------------------------------------------------

    @property
    def ca_path(self) -> Path:
        return self._ca.cert_path

    @property
    def auth_url(self) -> str:
        return f"{self.login_url}/{self.tenant_id}/oauth2/v2.0/token"

    @property
    def issuer(self) -> str:
        """The tenant's v2 token issuer: what a federated credential for its identities names."""
        return f"{self.login_url}/{self.tenant_id}/v2.0"

    def imds_env(self) -> dict[str, str]:
        """The variable that points MSAL's Azure VM (IMDS) path at this machine's endpoint."""
        assert self.identity_url, "no managed identity endpoint: configure managed_identities"
        return {"AZURE_POD_IDENTITY_AUTHORITY_HOST": self.identity_url}

    def app_service_env(self) -> dict[str, str]:
        """The variables App Service sets for its identity endpoint, pointing here."""
        assert self.identity_url, "no managed identity endpoint: configure managed_identities"
        return {"IDENTITY_ENDPOINT": self.identity_url + APP_SERVICE_PATH,
                "IDENTITY_HEADER": self.identity_header}

    @property
    def azurite_url(self) -> str | None:
        backend = self._backend
        return backend.client.endpoint if isinstance(backend, AzuriteBackend) else None

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts the emulator (and its Azurite) only."""
        return ssl.create_default_context(cafile=str(self.ca_path))

    def env(self) -> dict[str, str]:
        """The settings a client needs, as environment variables."""
        return {
            "INTUNE_CLIENT_ID": self.client_id,
            "INTUNE_CLIENT_SECRET": self.client_secret,
            "INTUNE_AUTH_URL": self.auth_url,
            "INTUNE_GRAPH_URL": self.graph_url,
            "SSL_CERT_FILE": str(self.ca_path),
        }

    # --- what tests inspect --------------------------------------------------------------

    def _record(self, record: RequestRecord) -> None:
        with self._log_lock:
            self._log.append(record)

    @property
    def request_log(self) -> list[RequestRecord]:
        with self._log_lock:
            return list(self._log)

    def write_requests(self) -> list[RequestRecord]:
        """Graph requests that could change something (method other than GET/HEAD)."""
        return [
            r for r in self.request_log if r.service == "graph" and r.method not in ("GET", "HEAD")
        ]

    def lateness(self) -> list[Lateness]:
        """With ``EmulatorConfig.timing``: each state that completed, its delay, and how long
        after completing a read first showed it (empty without timing)."""
        clock = self._state.clock
        return clock.records() if clock is not None else []

    @property
    def issued_tokens(self) -> list[str]:
        with self._state.lock:
            return list(self._state.issued_tokens)

    def apps(self) -> list[dict[str, Any]]:
        """Every app as beta renders it, with ``categories`` and ``assignments`` expanded."""
        with self._state.lock:
            return [self._render(app_id) for app_id in self._state.apps]

    def app(self, app_id: str) -> dict[str, Any] | None:
        with self._state.lock:
            return self._render(app_id) if app_id in self._state.apps else None

    def _render(self, app_id: str) -> dict[str, Any]:
        assert self._graph is not None
        app = self._state.apps[app_id]
        entity = self._graph.render_app(app, beta=True)
        entity["categories"] = [
            {"id": c, "displayName": self._state.categories[c].display_name}
            for c in app.category_ids
            if c in self._state.categories
        ]
        entity["assignments"] = copy.deepcopy(app.assignments)
        return entity

    def relationships(self, app_id: str) -> list[dict[str, Any]]:
        """An app's relationship rows in both directions, as beta lists them."""
        assert self._graph is not None
        with self._state.lock:
            return self._graph.relationships.rows_of(self._state.apps[app_id])

    def categories(self) -> list[dict[str, str]]:
        with self._state.lock:
            return [
                {"id": c.id, "displayName": c.display_name} for c in self._state.categories.values()
            ]

    def files(self, app_id: str) -> list[dict[str, Any]]:
        """Every content file of an app, as Graph renders it, plus ``contentVersion`` and the
        emulator's own notes (``failureReason``, ``plaintextSha256``)."""
        assert self._graph is not None
        with self._state.lock:
            app = self._state.apps.get(app_id)
            if app is None:
                return []
            out = []
            for version in app.versions.values():
                for file in version.files.values():
                    entity = self._graph.content.render_file(file)
                    entity.update(
                        contentVersion=version.id,
                        failureReason=file.failure,
                        plaintextSha256=file.plaintext_sha256,
                    )
                    out.append(entity)
            return out

    def _committed_file(self, app_id: str) -> ContentFile:
        with self._state.lock:
            app = self._state.apps.get(app_id)
            if app is None:
                raise LookupError(f"no app {app_id}")
            version = app.versions.get(app.committed_version or "")
            if version is None:
                raise LookupError(f"app {app_id} has no committedContentVersion")
            for file in version.files.values():
                if not file.is_dependency and file.upload_state == COMMIT_SUCCESS:
                    return file
        raise LookupError(f"app {app_id}: version {version.id} has no committed file")

    def committed_sha256(self, app_id: str) -> str:
        """Hex SHA-256 of the committed plaintext, computed during the commit checks."""
        file = self._committed_file(app_id)
        assert file.plaintext_sha256 is not None
        return file.plaintext_sha256

    def committed_content(self, app_id: str) -> bytes:
        """The decrypted plaintext of the committed file (whole, in memory: for small files)."""
        file = self._committed_file(app_id)
        assert self._backend is not None and file.blob_key and file.encryption
        reader = self._backend.open(file.blob_key)
        if reader is None:
            raise LookupError(f"app {app_id}: the committed blob is gone")
        return decrypt_blob(b"".join(reader.chunks), file.encryption)

    # --- state-level faults --------------------------------------------------------------

    def fail_next_commit(self, times: int = 1, *, timed_out: bool = False) -> None:
        """The next ``times`` commits end ``commitFileFailed`` (or ``…TimedOut``) whatever was
        uploaded."""
        state = "commitFileTimedOut" if timed_out else "commitFileFailed"
        with self._state.lock:
            self._state.fail_commits.extend([state] * times)

    def fail_upload_uri(self, times: int = 1, *, timed_out: bool = False) -> None:
        """The next ``times`` files end ``azureStorageUriRequestFailed`` (or ``…TimedOut``)."""
        state = "azureStorageUriRequestTimedOut" if timed_out else "azureStorageUriRequestFailed"
        with self._state.lock:
            self._state.fail_upload_uris.extend([state] * times)

    def fail_renewal(self, times: int = 1, *, timed_out: bool = False) -> None:
        """The next ``times`` renewals end ``azureStorageUriRenewalFailed`` (or ``…TimedOut``);
        the file keeps its old grant, expired or not."""
        state = "azureStorageUriRenewalTimedOut" if timed_out else "azureStorageUriRenewalFailed"
        with self._state.lock:
            self._state.fail_renewals.extend([state] * times)

    def expire_tokens_now(self) -> None:
        """Every access token issued so far is expired from now on: Graph answers 401
        "Lifetime validation failed" until the client signs in again."""
        past = time.time() - 1
        with self._state.lock:
            for token, grant in list(self._state.tokens.items()):
                self._state.tokens[token] = dataclasses.replace(grant, expires_at=past)

    def expire_sas_now(self, app_id: str | None = None) -> None:
        """Expire every granted SAS (of one app, or all): blob calls then get 403 until a
        renewal. The URI stays the same, as a stored access policy's does."""
        assert self._graph is not None
        with self._state.lock:
            for file in list(self._state.files_by_blob.values()):
                if app_id is None or self._owner(file) == app_id:
                    self._graph.content.expire(file)

    def _owner(self, file: ContentFile) -> str | None:
        for app in self._state.apps.values():
            for version in app.versions.values():
                if file.id in version.files:
                    return app.id
        return None

    def add_group(self, name: str, group_id: str | None = None) -> str:
        """A group of the tenant's directory (two may share a name, as in Entra); its id."""
        with self._state.lock:
            return self._state.directory.add_group(name, group_id)

    def add_filter(self, name: str, platform: str, filter_id: str | None = None) -> str:
        """An assignment filter for ``platform`` (devicePlatformType); its id."""
        with self._state.lock:
            return self._state.directory.add_filter(name, platform, filter_id)

    def fail_next_report(self, times: int = 1, *, never: bool = False) -> None:
        """The next ``times`` export jobs end ``failed`` (or never complete: ``inProgress``
        forever)."""
        assert self._reports is not None
        with self._state.lock:
            self._reports.faults.extend(["never" if never else "failed"] * times)

    def set_fleet(self, devices: tuple[FleetDevice, ...]) -> None:
        """Replace the simulated fleet (devices first see their builds from now on)."""
        with self._state.lock:
            self.fleet.devices = list(devices)

    def export_jobs(self) -> list[dict[str, Any]]:
        """Every export job as the emulator keeps it: id, status, body."""
        assert self._reports is not None
        with self._state.lock:
            return [{"id": j.id, "status": j.status, **j.body}
                    for j in self._reports.jobs.values()]

    def set_roles(self, roles: tuple[str, ...]) -> None:
        """Roles carried by tokens issued from now on (tokens already issued keep theirs)."""
        with self._state.lock:
            self._state.roles = tuple(roles)


def _secret() -> str:
    # Shaped like an Entra client secret value: 40 chars with a '~'.
    raw = secrets.token_urlsafe(30)[:37]
    return f"{raw[:3]}8Q~{raw[3:]}"
