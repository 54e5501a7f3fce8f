"""The publish flow: app, content version, file, upload, commit, point, publish.

Nothing here prints; progress goes to the Reporter. A run that created a new app and then
fails removes that app again, so no half-published app is left behind.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from intune_step.artifacts.base import AppMetadata
from intune_step.blob import BlockUploader, UploadResult
from intune_step.bodies import app_body, content_file_body, display_name, update_body
from intune_step.errors import BadInputError, GraphError, IntuneStepError
from intune_step.events import Reporter
from intune_step.graph import GraphClient
from intune_step.settings import PublishOptions, Settings
from intune_step.waits import WaitPolicy, wait_for_state

RENEW_MARGIN = timedelta(minutes=3)
UPLOAD_URI_PENDING = ("azureStorageUriRequestPending",)
RENEW_PENDING = ("azureStorageUriRenewalPending", "azureStorageUriRequestSuccess")
COMMIT_PENDING = ("commitFilePending",)


@dataclass(frozen=True)
class PublishResult:
    app_id: str
    content_version_id: str
    app_type: str
    operation: str  # created | updated | unchanged | dry-run
    version: str
    app_url: str
    file_sha256: str
    display_name: str

    def outputs(self) -> dict[str, str]:
        return {
            "app-id": self.app_id,
            "content-version-id": self.content_version_id,
            "app-type": self.app_type,
            "operation": self.operation,
            "version": self.version,
            "app-url": self.app_url,
            "file-sha256": self.file_sha256,
        }


def app_url(settings: Settings, app_id: str) -> str:
    if settings.portal_url:
        return (f"{settings.portal_url}/#view/Microsoft_Intune_Apps/SettingsMenu/~/0/"
                f"appId/{app_id}")
    return f"{settings.graph_url}/{settings.graph_version}/deviceAppManagement/mobileApps/{app_id}"


def version_label(meta: AppMetadata) -> str:
    return meta.version if not meta.build or meta.build == meta.version else (
        f"{meta.version} ({meta.build})")


class GraphUploadTarget:
    """The content file's SAS URI, renewed through Graph shortly before it expires."""

    def __init__(self, graph: GraphClient, file_path: str, entity: dict[str, Any],
                 waits: WaitPolicy, reporter: Reporter) -> None:
        self._graph = graph
        self._file_path = file_path
        self._waits = waits
        self._reporter = reporter
        self._lock = threading.Lock()
        self._set(entity)

    def _set(self, entity: dict[str, Any]) -> None:
        self._uri = str(entity["azureStorageUri"])
        self._reporter.mask(self._uri.split("sig=", 1)[-1].split("&", 1)[0])
        expiry = entity.get("azureStorageUriExpirationDateTime")
        self._expires = _parse_time(expiry) if expiry else None
        # Renew 3 minutes ahead, or a third of a shorter lifetime ahead: never on every block.
        lifetime = (self._expires - datetime.now(UTC)) if self._expires else RENEW_MARGIN
        self._margin = min(RENEW_MARGIN, max(lifetime, timedelta(0)) / 3)

    def uri(self) -> str:
        with self._lock:
            if self._expires and datetime.now(UTC) >= self._expires - self._margin:
                self._renew_locked()
            return self._uri

    def renew(self) -> str:
        with self._lock:
            self._renew_locked()
            return self._uri

    def _renew_locked(self) -> None:
        self._reporter.info("Renewing the upload URL")
        self._graph.post(f"{self._file_path}/renewUpload", {}, what="renew the upload URL")
        entity = wait_for_state(
            lambda: self._graph.get(self._file_path, what="read the content file"),
            "uploadState", "azureStorageUriRenewalSuccess", RENEW_PENDING,
            "renewing the upload URL", self._waits, timeout=300,
        )
        self._set(entity)


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Publisher:
    def __init__(self, settings: Settings, graph: GraphClient, uploader: BlockUploader,
                 reporter: Reporter, waits: WaitPolicy | None = None) -> None:
        self.settings = settings
        self.graph = graph
        self.uploader = uploader
        self.reporter = reporter
        self.waits = waits or WaitPolicy()

    # -- entry point ----------------------------------------------------------------------
    def publish(self, meta: AppMetadata, options: PublishOptions) -> PublishResult:
        existing = self._existing_app(meta, options.app_id) if options.app_id else None
        if options.dry_run:
            return self._plan(meta, options, existing)
        if existing is None:
            app = self.graph.post("deviceAppManagement/mobileApps",
                                  app_body(meta, options, self.settings),
                                  what="create the app", idempotent=False) or {}
            app_id = str(app["id"])
            self.reporter.info(f"Created {meta.app_type} {app_id}")
            try:
                cv, upload = self._upload_content(app_id, meta, options, is_update=False)
            except BaseException as exc:
                self._remove_half_created(app_id, exc)
                raise
            operation = "created"
        else:
            app_id = str(existing["id"])
            self.reporter.info(f"Updating {meta.app_type} {app_id}")
            cv, upload = self._upload_content(app_id, meta, options, is_update=True)
            operation = "updated"
        return PublishResult(
            app_id=app_id, content_version_id=cv, app_type=meta.app_type, operation=operation,
            version=version_label(meta), app_url=app_url(self.settings, app_id),
            file_sha256=upload.file_sha256, display_name=display_name(meta, options),
        )

    # -- steps ----------------------------------------------------------------------------
    def _existing_app(self, meta: AppMetadata, app_id: str) -> dict[str, Any]:
        try:
            app = self.graph.get(f"deviceAppManagement/mobileApps/{app_id}",
                                 what=f"read app {app_id}")
        except GraphError as exc:
            if exc.status == 404:
                raise BadInputError(f"app-id {app_id} does not exist in this tenant",
                                    fix="check app-id, or leave it empty to create the app",
                                    request_id=exc.request_id) from exc
            raise
        actual = str(app.get("@odata.type", "")).lstrip("#").removeprefix("microsoft.graph.")
        if actual.lower() != meta.app_type.lower():
            raise BadInputError(
                f"app-id {app_id} is a {actual or 'different app'}, but {meta.file_name} is a "
                f"{meta.app_type}",
                fix="give the app-id of the matching app, or leave it empty to create one",
            )
        return app

    def _upload_content(self, app_id: str, meta: AppMetadata, options: PublishOptions,
                        is_update: bool) -> tuple[str, UploadResult]:
        cast = f"deviceAppManagement/mobileApps/{app_id}/microsoft.graph.{meta.app_type}"
        version = self.graph.post(f"{cast}/contentVersions", {},
                                  what="create a content version") or {}
        cv = str(version["id"])
        entity = self.graph.post(f"{cast}/contentVersions/{cv}/files", content_file_body(meta),
                                 what="create the content file") or {}
        file_path = f"{cast}/contentVersions/{cv}/files/{entity['id']}"

        def read_file() -> dict[str, Any]:
            return self.graph.get(file_path, what="read the content file")

        entity = wait_for_state(read_file, "uploadState", "azureStorageUriRequestSuccess",
                                UPLOAD_URI_PENDING, "waiting for the upload URL", self.waits)
        target = GraphUploadTarget(self.graph, file_path, entity, self.waits, self.reporter)
        self.reporter.info(f"Uploading {meta.file_name} ({meta.content.size:,} bytes)")
        upload = self.uploader.upload(meta.content, target, meta.file_name)
        self.graph.post(f"{file_path}/commit",
                        {"fileEncryptionInfo": upload.encryption_info.to_graph()},
                        what="commit the content file")
        commit_timeout = max(self.waits.timeout, meta.content.size / (5 * 1024 * 1024))
        wait_for_state(read_file, "uploadState", "commitFileSuccess", COMMIT_PENDING,
                       "waiting for the commit", self.waits, timeout=commit_timeout)
        self.reporter.info(f"Committed content version {cv}")
        patch = (update_body(meta, options, self.settings) if is_update
                 else {"@odata.type": meta.odata_type})
        patch["committedContentVersion"] = cv
        self.graph.patch(f"deviceAppManagement/mobileApps/{app_id}", patch,
                         what="set the committed content version")
        wait_for_state(
            lambda: self.graph.get(f"deviceAppManagement/mobileApps/{app_id}", what="read app"),
            "publishingState", "published", ("notPublished", "processing"),
            "waiting for the app to be published", self.waits,
        )
        return cv, upload

    def _remove_half_created(self, app_id: str, cause: BaseException) -> None:
        try:
            self.graph.delete(f"deviceAppManagement/mobileApps/{app_id}",
                              what="remove the half-created app")
        except IntuneStepError as exc:
            self.reporter.warning(
                f"Could not remove the half-created app {app_id}: {exc.one_line()}")
            return
        self.reporter.warning(f"Removed the half-created app {app_id} after the failure")

    def _plan(self, meta: AppMetadata, options: PublishOptions,
              existing: dict[str, Any] | None) -> PublishResult:
        if existing is None:
            self.reporter.info(f"Dry run: would create {meta.app_type} "
                               f"'{display_name(meta, options)}' {version_label(meta)}")
            app_id = ""
        else:
            app_id = str(existing["id"])
            self.reporter.info(f"Dry run: would upload {version_label(meta)} as a new content "
                               f"version of {app_id} ('{existing.get('displayName', '')}')")
        return PublishResult(
            app_id=app_id, content_version_id="", app_type=meta.app_type, operation="dry-run",
            version=version_label(meta),
            app_url=app_url(self.settings, app_id) if app_id else "",
            file_sha256=file_sha256(meta.content.path), display_name=display_name(meta, options),
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
