"""Content versions and content files: upload URI, renewal and commit state machines.

The sequence they serve is in docs/protocol.md, "Upload sequence".

Pending states advance on GET: a file stays ``…Pending`` for the configured number of reads,
then moves on. A commit is verified on a background thread (a 4 GiB blob takes a while); the
file stays ``commitFilePending`` until both the reads and the verification are done.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import threading
import time
import uuid
from typing import Any

from . import schema
from .apptypes import cast_allowed
from .backends import BlobBackend
from .config import EmulatorConfig
from .graph_common import Ctx, bad_request, method_not_allowed, not_found, segment_error
from .server import Response
from .state import App, ContentFile, ContentVersion, SasGrant, State
from .verify import VerifyResult, parse_encryption_info, verify_stream
from .wire import iso, utcnow

URI_PENDING = "azureStorageUriRequestPending"
URI_SUCCESS = "azureStorageUriRequestSuccess"
RENEW_PENDING = "azureStorageUriRenewalPending"
RENEW_SUCCESS = "azureStorageUriRenewalSuccess"
COMMIT_PENDING = "commitFilePending"
COMMIT_SUCCESS = "commitFileSuccess"
COMMIT_FAILED = "commitFileFailed"
UPLOADABLE = (URI_SUCCESS, RENEW_SUCCESS)
COMMITTABLE = (URI_SUCCESS, RENEW_SUCCESS, COMMIT_FAILED, "commitFileTimedOut")
RENEWABLE = (
    URI_SUCCESS,
    RENEW_SUCCESS,
    "azureStorageUriRenewalFailed",
    "azureStorageUriRenewalTimedOut",
)


class ContentApi:
    def __init__(self, config: EmulatorConfig, state: State, backend: BlobBackend) -> None:
        self.config = config
        self.state = state
        self.backend = backend
        self._results: dict[str, VerifyResult] = {}  # file id → finished verification

    # --- routing -------------------------------------------------------------------------

    def route(self, ctx: Ctx, app: App, cast: str | None, rest: list[str]) -> Response:
        """``rest`` starts after ``contentVersions``; the state lock is held by the caller."""
        if cast is not None and not cast_allowed(cast, app.type_name, self.config.strict_casts):
            raise bad_request(
                f"The type cast 'microsoft.graph.{cast}' does not match the app's type "
                f"'microsoft.graph.{app.type_name}'.",
                nested=False,
            )
        method = ctx.request.method
        if not rest:
            if method == "GET":
                versions = [self._render_version(v) for v in app.versions.values()]
                return ctx.page(
                    versions,
                    context=ctx.context(
                        f"deviceAppManagement/mobileApps('{app.id}')/contentVersions"
                    ),
                    page_size=self.config.page_size,
                )
            if method == "POST":
                schema.model(ctx.version).check_typed("mobileAppContent", ctx.body())
                version_id = str(next(app.version_ids))
                app.versions[version_id] = ContentVersion(version_id)
                body = {
                    "@odata.context": ctx.context(
                        f"deviceAppManagement/mobileApps('{app.id}')/contentVersions/$entity"
                    ),
                    **self._render_version(app.versions[version_id]),
                }
                return ctx.json(201, body)
            raise method_not_allowed(method)
        version = app.versions.get(rest[0])
        if version is None:
            raise not_found(f"Content version '{rest[0]}' of app '{app.id}'")
        if len(rest) == 1:
            if method == "GET":
                return ctx.json(200, self._render_version(version))
            if method == "DELETE":  # documented: "Delete mobileAppContent"
                if app.committed_version == version.id:
                    raise bad_request(
                        f"The content version '{version.id}' is the app's committed content "
                        "version and cannot be deleted."
                    )
                del app.versions[version.id]
                for file in version.files.values():
                    self._drop_blob(file)
                return ctx.empty(204)
            raise method_not_allowed(method)
        if rest[1].lower() != "files":
            raise segment_error(rest[1])
        return self._files(ctx, app, version, rest[2:])

    def _files(self, ctx: Ctx, app: App, version: ContentVersion, rest: list[str]) -> Response:
        method = ctx.request.method
        if not rest:
            if method == "POST":
                return self._create_file(ctx, app, version)
            if method == "GET":
                for each in version.files.values():
                    self._observe(each)
                return ctx.json(
                    200,
                    {
                        "@odata.context": ctx.context(
                            "deviceAppManagement/mobileApps/contentVersions/files"
                        ),
                        "value": [self.render_file(f) for f in version.files.values()],
                    },
                )
            raise method_not_allowed(method)
        file = version.files.get(rest[0])
        if file is None:
            raise not_found(f"Content file '{rest[0]}'")
        if len(rest) == 1:
            if method == "GET":
                self._observe(file)
                return ctx.json(
                    200,
                    {
                        "@odata.context": ctx.context(
                            "deviceAppManagement/mobileApps/contentVersions/files/$entity"
                        ),
                        **self.render_file(file),
                    },
                )
            if method == "DELETE":
                self._refuse_if_committed(app, version)
                del version.files[file.id]
                self._drop_blob(file)
                return ctx.empty(204)
            raise method_not_allowed(method)
        action = rest[1].lower()
        if len(rest) == 2 and method == "POST" and action == "commit":
            return self._commit(ctx, file)
        if len(rest) == 2 and method == "POST" and action == "renewupload":
            return self._renew(ctx, file)
        raise segment_error(rest[1])

    # --- create --------------------------------------------------------------------------

    def _refuse_if_committed(self, app: App, version: ContentVersion) -> None:
        """The app's committed content version is what devices install: it does not change
        (docs/protocol.md, "Commit")."""
        if app.committed_version == version.id:
            raise bad_request(
                f"The content version '{version.id}' is the app's committed content version "
                "and cannot be changed; create a new content version."
            )

    def _create_file(self, ctx: Ctx, app: App, version: ContentVersion) -> Response:
        body = ctx.body()
        self._refuse_if_committed(app, version)
        model = schema.model(ctx.version)
        model.check_typed("mobileAppContentFile", body)
        for plain, alias in (("size", "sizeInBytes"), ("sizeEncrypted", "sizeEncryptedInBytes")):
            both = body.get(plain) is not None and body.get(alias) is not None
            if both and body[plain] != body[alias]:
                raise bad_request(
                    f"The properties '{plain}' ({body[plain]}) and '{alias}' "
                    f"({body[alias]}) name the same size and must be equal."
                )
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise bad_request("The property 'name' is required.")
        size = _int_field(body, "size", "sizeInBytes")
        size_encrypted = _int_field(body, "sizeEncrypted", "sizeEncryptedInBytes")
        manifest = body.get("manifest")
        if manifest is not None:
            if not isinstance(manifest, str):
                raise bad_request("The property 'manifest' must be base64 (Edm.Binary) or null.")
            try:
                base64.b64decode(manifest, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise bad_request("The property 'manifest' is not valid base64.") from exc
        if app.type_name == "windowsUniversalAppX" and not manifest:
            raise bad_request("A windowsUniversalAppX content file requires a (non-null) manifest.")
        limit = self.config.max_file_size
        if limit is not None and size > limit:
            raise bad_request(
                f"The file size {size} exceeds the maximum allowed size of {limit} bytes."
            )
        is_dependency = body.get("isDependency", False)
        if not isinstance(is_dependency, bool):
            raise bad_request("The property 'isDependency' must be a boolean.")
        known = {
            "name",
            "size",
            "sizeInBytes",
            "sizeEncrypted",
            "sizeEncryptedInBytes",
            "manifest",
            "isDependency",
            "uploadState",  # the service's to set
        } | model.read_only("mobileAppContentFile")
        file = ContentFile(
            id=str(uuid.uuid4()),
            name=name,
            size=size,
            size_encrypted=size_encrypted,
            manifest=manifest,
            is_dependency=is_dependency,
            created=utcnow(),
            extra={k: v for k, v in body.items() if k not in known and not k.startswith("@")},
            polls_left=self.config.upload_uri_pending_polls,
        )
        self._start_timer(file, "upload_uri")
        version.files[file.id] = file
        body = {
            "@odata.context": ctx.context(
                "deviceAppManagement/mobileApps/contentVersions/files/$entity"
            ),
            **self.render_file(file),
        }
        return ctx.json(201, body)

    # --- state machine -------------------------------------------------------------------

    def _start_timer(self, file: ContentFile, state: str) -> None:
        """With the service's timing, the pending state just entered completes at its due
        moment instead of after N reads."""
        clock = self.state.clock
        if clock is None:
            file.due = None
            return
        file.due, file.delay = clock.due(state)

    def _not_yet(self, file: ContentFile) -> bool:
        """Whether this read still sees the pending state (N reads, or the due moment)."""
        if file.due is None:
            if file.polls_left > 0:
                file.polls_left -= 1
                return True
            return False
        return time.monotonic() < file.due or (
            file.upload_state == COMMIT_PENDING and file.verifying
        )

    def _observe(self, file: ContentFile) -> None:
        """A GET of the file: count it against the pending state, advance when due."""
        if file.upload_state not in (URI_PENDING, RENEW_PENDING, COMMIT_PENDING):
            return
        if self._not_yet(file):
            return
        if self.state.clock is not None and file.due is not None:
            completed = max(file.due, file.verified_at or 0.0)
            state = {URI_PENDING: "upload_uri", RENEW_PENDING: "renew"}.get(
                file.upload_state, "commit"
            )
            self.state.clock.seen(state, completed, file.delay)
            file.due = None
        if file.upload_state == URI_PENDING:
            if self.state.fail_upload_uris:
                file.upload_state = self.state.fail_upload_uris.pop(0)
                return
            key = self.backend.provision()
            file.blob_key = key
            self.state.files_by_blob[key] = file
            self._grant(file, rotate=True)
            file.upload_state = URI_SUCCESS
        elif file.upload_state == RENEW_PENDING:
            if self.state.fail_renewals:  # the old grant stays as it was
                file.upload_state = self.state.fail_renewals.pop(0)
                return
            self._grant(file, rotate=self.config.renew_rotates_sig)
            file.upload_state = RENEW_SUCCESS
        elif file.upload_state == COMMIT_PENDING and not file.verifying:
            result = self._results.pop(file.id, VerifyResult(False, "verification lost"))
            if result.ok:
                file.upload_state = COMMIT_SUCCESS
                file.is_committed = True
                file.plaintext_sha256 = result.plaintext_sha256
                file.committed_at = time.monotonic()
            else:
                file.upload_state = result.state or COMMIT_FAILED
                file.failure = result.reason

    def _grant(self, file: ContentFile, *, rotate: bool) -> None:
        assert file.blob_key is not None
        now = utcnow()
        si = str(next(self.state.sas_ids)) if rotate or file.sas is None else file.sas.si
        grant = self.backend.grant(
            file.blob_key,
            si,
            now - dt.timedelta(minutes=5),  # tolerate client clock skew, as Azure does
            now + dt.timedelta(seconds=self.config.sas_lifetime_s),
        )
        file.sas = grant
        file.uri = self.backend.uri(file.blob_key, grant)

    def expire(self, file: ContentFile) -> None:
        """Make the file's current SAS expired, keeping its URI (Emulator.expire_sas_now)."""
        if file.sas is None or file.blob_key is None:
            return
        past = utcnow() - dt.timedelta(seconds=1)
        start = min(file.sas.start, past - dt.timedelta(minutes=5))
        grant = self.backend.grant(file.blob_key, file.sas.si, start, past)
        file.sas = SasGrant(grant.si, grant.sig, start, past)

    # --- renew ---------------------------------------------------------------------------

    def _renew(self, ctx: Ctx, file: ContentFile) -> Response:
        ctx.body()  # empty or {}: both accepted (docs/protocol.md, "Renewal with an empty body")
        if file.upload_state not in RENEWABLE:
            raise bad_request(f"The upload URI cannot be renewed in state '{file.upload_state}'.")
        file.upload_state = RENEW_PENDING
        file.polls_left = self.config.renew_pending_polls
        self._start_timer(file, "renew")
        return ctx.empty(self.config.renew_status)

    # --- commit --------------------------------------------------------------------------

    def _commit(self, ctx: Ctx, file: ContentFile) -> Response:
        body = ctx.body()
        schema.model(ctx.version).check_action("commit", body)
        try:
            info = parse_encryption_info(body.get("fileEncryptionInfo"))
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
        if file.upload_state not in COMMITTABLE:
            raise bad_request(f"The file cannot be committed while in state '{file.upload_state}'.")
        forced = self.state.fail_commits.pop(0) if self.state.fail_commits else None
        file.upload_state = COMMIT_PENDING
        file.polls_left = self.config.commit_pending_polls
        self._start_timer(file, "commit")
        file.encryption = info
        file.failure = None
        file.verifying = True
        threading.Thread(
            target=self._verify, args=(file, forced), name=f"verify-{file.id}", daemon=True
        ).start()
        return ctx.empty(self.config.commit_status)

    def _verify(self, file: ContentFile, forced: str | None) -> None:
        try:
            result = self._run_checks(file, forced)
        except Exception as exc:  # a vanished blob or Azurite error: the commit fails
            result = VerifyResult(False, f"could not read the blob: {exc}")
        with self.state.lock:
            self._results[file.id] = result
            file.verifying = False
            file.verified_at = time.monotonic()

    def _run_checks(self, file: ContentFile, forced: str | None) -> VerifyResult:
        if forced:
            return VerifyResult(False, "injected failure (fail_next_commit)", state=forced)
        if file.blob_key is None or file.encryption is None:
            return VerifyResult(False, "no upload URI was ever granted")
        reader = self.backend.open(file.blob_key)
        if reader is None:
            return VerifyResult(False, "no blob: Put Block List was never called")
        if not reader.via_block_list:
            for _ in reader.chunks:
                pass
            return VerifyResult(False, "the blob was not committed with Put Block List")
        return verify_stream(
            reader.chunks,
            file.encryption,
            size=file.size,
            size_encrypted=file.size_encrypted,
            blob_length=reader.length,
        )

    def _drop_blob(self, file: ContentFile) -> None:
        if file.blob_key is not None:
            self.state.files_by_blob.pop(file.blob_key, None)
            key = file.blob_key
            threading.Thread(target=self._delete_quietly, args=(key,), daemon=True).start()

    def drop_app(self, app: App) -> None:
        for version in app.versions.values():
            for file in version.files.values():
                self._drop_blob(file)

    def _delete_quietly(self, key: str) -> None:
        with contextlib.suppress(Exception):  # best effort: the state is already gone
            self.backend.delete(key)

    # --- rendering -----------------------------------------------------------------------

    def _render_version(self, version: ContentVersion) -> dict[str, Any]:
        return {"@odata.type": "#microsoft.graph.mobileAppContent", "id": version.id}

    def render_file(self, file: ContentFile) -> dict[str, Any]:
        expiry = file.sas.expiry if file.sas is not None else None
        return {
            "@odata.type": "#microsoft.graph.mobileAppContentFile",
            "azureStorageUri": file.uri,
            "isCommitted": file.is_committed,
            "isDependency": file.is_dependency,
            "createdDateTime": iso(file.created),
            "id": file.id,
            "manifest": file.manifest,
            "name": file.name,
            "size": file.size,
            "sizeEncrypted": file.size_encrypted,
            "sizeInBytes": file.size,
            "sizeEncryptedInBytes": file.size_encrypted,
            "azureStorageUriExpirationDateTime": iso(expiry) if expiry else None,
            "uploadState": file.upload_state,
            **file.extra,
        }


def _int_field(body: dict[str, Any], name: str, alias: str) -> int:
    value = body.get(name, body.get(alias))
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad_request(f"The property '{name}' (Int64) is required and must be >= 0.")
    return value
