"""The emulator's in-memory world: tokens, apps, content versions, files, categories.

Everything here is plain data guarded by one re-entrant lock, ``State.lock``. Handlers take
the lock for each read-modify-write; the slow parts (disk I/O, verification) run outside it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from intune_step.crypto import FileEncryptionInfo

from .directory import Directory
from .timing import Clock, StateTiming


@dataclass(frozen=True)
class TokenGrant:
    token: str
    expires_at: float  # epoch seconds
    roles: tuple[str, ...]
    tid: str
    appid: str
    aud: str


@dataclass(frozen=True)
class SasGrant:
    """A blob SAS as handed out: stored-policy id, signature and validity window."""

    si: str
    sig: str
    start: dt.datetime
    expiry: dt.datetime


@dataclass
class ContentFile:
    id: str
    name: str
    size: int
    size_encrypted: int
    manifest: str | None
    is_dependency: bool
    created: dt.datetime
    extra: dict[str, Any]
    upload_state: str = "azureStorageUriRequestPending"
    polls_left: int = 0
    blob_key: str | None = None
    sas: SasGrant | None = None
    uri: str | None = None
    is_committed: bool = False
    encryption: FileEncryptionInfo | None = None
    verifying: bool = False
    failure: str | None = None
    plaintext_sha256: str | None = None
    committed_at: float | None = None  # time.monotonic() of commitFileSuccess
    # With EmulatorConfig.timing: when the pending state completes, its delay, and when the
    # commit's check of the blob ended (time.monotonic()).
    due: float | None = None
    delay: float = 0.0
    verified_at: float | None = None


@dataclass
class ContentVersion:
    id: str
    files: dict[str, ContentFile] = field(default_factory=dict)


@dataclass
class App:
    id: str
    type_name: str  # canonical, e.g. "win32LobApp"
    props: dict[str, Any]  # everything the client set, minus read-only fields
    created: dt.datetime
    modified: dt.datetime
    publishing_state: str = "notPublished"
    publish_polls_left: int = 0
    publish_due: float | None = None  # with EmulatorConfig.timing, as ContentFile.due
    publish_delay: float = 0.0
    committed_version: str | None = None
    versions: dict[str, ContentVersion] = field(default_factory=dict)
    version_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    category_ids: list[str] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    # Own supersedence/dependency rows: {"kind", "target", "detail"} (relationships.py).
    relationships: list[dict[str, Any]] = field(default_factory=list)

    def observe_publish(self, clock: Clock | None = None) -> None:
        """A read of the app: ``processing`` lasts the configured number of reads, or until
        ``publish_due`` (then ``clock`` records how late this read saw it)."""
        if self.publishing_state != "processing":
            return
        if self.publish_due is not None:
            if time.monotonic() >= self.publish_due:
                self.publishing_state = "published"
                if clock is not None:
                    clock.seen("publish", self.publish_due, self.publish_delay)
            return
        if self.publish_polls_left > 0:
            self.publish_polls_left -= 1
        else:
            self.publishing_state = "published"


@dataclass
class Category:
    id: str
    display_name: str
    modified: dt.datetime


class State:
    def __init__(self, roles: tuple[str, ...], timing: StateTiming | None = None) -> None:
        self.lock = threading.RLock()
        # The service's timing (EmulatorConfig.timing); None: pending states last N reads.
        self.clock = Clock(timing) if timing is not None else None
        self.tokens: dict[str, TokenGrant] = {}
        self.issued_tokens: list[str] = []
        self.apps: dict[str, App] = {}
        self.categories: dict[str, Category] = {}
        self.directory = Directory()  # groups and assignment filters (directory.py)
        self.files_by_blob: dict[str, ContentFile] = {}
        self.roles = roles
        self.sas_ids = itertools.count(-132219447)  # looks like the live service's si values
        # One-shot, state-level faults (see Emulator.fail_next_commit and friends).
        self.fail_commits: list[str] = []  # end states of the next commits
        self.fail_upload_uris: list[str] = []
        self.fail_renewals: list[str] = []

    def find_file(self, app_id: str, version_id: str, file_id: str) -> ContentFile | None:
        app = self.apps.get(app_id)
        version = app.versions.get(version_id) if app else None
        return version.files.get(file_id) if version else None
