"""One app's content versions: upload a new one and point the app at it, or clean up what a
dead run left behind.

A new version goes through Intune's states in order (docs/protocol.md, "Upload sequence"):
create the version and its content file, wait for the upload URL, upload the encrypted file
to Azure Blob, commit it with the encryption keys, wait for the commit, PATCH the app's
committedContentVersion, wait until the app is published. A state another client gets past by
doing the step again (a URL never granted, a failed commit) is done again once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from intune_step.artifacts.base import AppMetadata
from intune_step.errors import IntuneStepError, UploadError
from intune_step.graph.bodies import content_file_body
from intune_step.graph.client import GraphClient
from intune_step.graph.lock import AppLock
from intune_step.graph.lookup import APPS, graph_type
from intune_step.graph.tags import ContentTag
from intune_step.graph.waits import (
    UnexpectedStateError,
    WaitPolicy,
    again_on_states,
    retry_through_cooldown,
    wait_for_state,
)
from intune_step.publish.upload_target import GraphUploadTarget
from intune_step.report import Reporter
from intune_step.upload.blob import Uploader, UploadResult

UPLOAD_URI_PENDING = ("azureStorageUriRequestPending",)
COMMIT_PENDING = ("commitFilePending",)
# States another client gets past by doing the step again
# (docs/protocol.md, "Upload states and retries"), once.
URI_FAILED = ("azureStorageUriRequestFailed", "azureStorageUriRequestTimedOut")
COMMIT_FAILED = ("commitFileFailed", "commitFileTimedOut")


Gate = Callable[[], None]


class Published(NamedTuple):
    content_version: str
    file_sha256: str
    app: dict[str, Any]  # as the read that saw it published: the lock's next check uses it


class ContentVersions:
    def __init__(self, graph: GraphClient, uploader: Uploader, waits: WaitPolicy,
                 reporter: Reporter) -> None:
        self.graph = graph
        self.uploader = uploader
        self.waits = waits
        self.reporter = reporter

    def publish(self, app_id: str, meta: AppMetadata, body: Mapping[str, Any], lock: AppLock,
                *, new_app: bool, expected_sha256: str | None,
                gate: Gate | None = None) -> Published:
        """Upload ``meta``'s file as a new content version and make it the app's, with
        ``body`` (the content fields) in the same PATCH.

        ``expected_sha256``: the hash the plan was made with; a file that no longer has it
        changed under the step. ``gate()`` may stop the run before the commit (the creation
        check). A version this run cannot commit is deleted (a new app is deleted whole by the
        caller)."""
        cast = f"{APPS}/{app_id}/microsoft.graph.{meta.app_type}"
        version = self.graph.post(f"{cast}/contentVersions", {},
                                  what="create a content version") or {}
        cv = str(version["id"])
        try:
            upload = self._upload(meta, cast, cv, lock, gate)
            if expected_sha256 is not None and upload.file_sha256 != expected_sha256:
                raise UploadError(f"{meta.file_name} changed while the step was running",
                                  fix="do not modify the artifact while the step runs")
            tag = ContentTag(meta.app_type, meta.identity, cv, upload.file_sha256)
            committed = {**body, "committedContentVersion": cv}
            # Intune may refuse this with 400 for a while after a large commit
            # (docs/protocol.md, "400 after a large commit").
            retry_through_cooldown(
                lambda: lock.patch(committed, "set the committed content version",
                                   content=tag),
                "set the committed content version", self.waits, self.reporter)
        except BaseException:
            if not new_app:
                self._delete(cast, cv, "this run could not commit it")
            raise
        return Published(cv, upload.file_sha256, self._wait_published(app_id))

    def clean_up(self, app: dict[str, Any], lock: AppLock) -> None:
        """Delete content versions a dead run created after the committed one, never used.

        Only versions newer than the committed one can be left over (each run cleans up
        before it uploads), so an app with years of versions costs one listing. Deleting
        waits until the lock is confirmed: a live run's new version looks the same."""
        app_id = str(app["id"])
        cast = f"{APPS}/{app_id}/microsoft.graph.{graph_type(app)}"
        committed = _int(app.get("committedContentVersion")) or 0
        for version in list(self.graph.get_all(f"{cast}/contentVersions",
                                                what="list the content versions")):
            number = _int(version.get("id"))
            if number is not None and number <= committed:
                continue
            vid = str(version.get("id"))
            files = self.graph.get(f"{cast}/contentVersions/{vid}/files",
                                   what="read a content version's files").get("value", [])
            if any(f.get("uploadState") == "commitFileSuccess" for f in files):
                continue  # committed content: a version someone may still point the app at
            lock.confirmed()
            self._delete(cast, vid, "left uncommitted by an earlier run")

    def _delete(self, cast: str, vid: str, why: str) -> None:
        try:
            self.graph.delete(f"{cast}/contentVersions/{vid}",
                              what=f"delete content version {vid}")
        except IntuneStepError as exc:
            self.reporter.warning(f"Could not delete content version {vid} ({why}): "
                                  f"{exc.one_line()}")
            return
        self.reporter.info(f"Deleted content version {vid}, {why}")

    def _content_file(self, meta: AppMetadata, cast: str, cv: str) -> tuple[str, dict[str, Any]]:
        """Create the content file and wait for its upload URL; a file whose URL request
        failed is deleted, so the version holds only the file that will be committed."""
        entity = self.graph.post(f"{cast}/contentVersions/{cv}/files", content_file_body(meta),
                                 what="create the content file") or {}
        file_path = f"{cast}/contentVersions/{cv}/files/{entity['id']}"
        try:
            return file_path, wait_for_state(
                lambda: self.graph.get(file_path, what="read the content file"), "uploadState",
                "azureStorageUriRequestSuccess", UPLOAD_URI_PENDING,
                "waiting for the upload URL", self.waits, self.waits.schedules.upload_url)
        except UnexpectedStateError as exc:
            if exc.state in URI_FAILED:
                try:
                    self.graph.delete(file_path, what="delete the failed content file")
                except IntuneStepError as gone:
                    self.reporter.warning(f"Could not delete the failed content file: "
                                          f"{gone.one_line()}")
            raise

    def _upload(self, meta: AppMetadata, cast: str, cv: str, lock: AppLock,
                gate: Gate | None) -> UploadResult:
        file_path, entity = again_on_states(
            lambda: self._content_file(meta, cast, cv), URI_FAILED,
            "creating the content file again for a new upload URL", self.reporter)

        def read_file() -> dict[str, Any]:
            return self.graph.get(file_path, what="read the content file")

        target = GraphUploadTarget(self.graph, file_path, entity, self.waits, self.reporter)
        self.reporter.info(f"Uploading {meta.file_name} ({meta.content.size:,} bytes)")
        upload = self.uploader.upload(meta.content, target, meta.file_name)
        if gate is not None:
            gate()
        lock.check()  # never commit a version while another run holds the app
        commit_timeout = max(self.waits.timeout, meta.content.size / (5 * 1024 * 1024))

        def commit() -> None:
            self.graph.post(f"{file_path}/commit",
                            {"fileEncryptionInfo": upload.encryption_info.to_graph()},
                            what="commit the content file")
            wait_for_state(read_file, "uploadState", "commitFileSuccess", COMMIT_PENDING,
                           "waiting for the commit", self.waits, self.waits.schedules.commit,
                           timeout=commit_timeout)

        # A failed commit is posted once more, as terraform does; a real mismatch fails again.
        again_on_states(commit, COMMIT_FAILED, "committing again", self.reporter)
        self.reporter.info(f"Committed content version {cv}")
        return upload

    def _wait_published(self, app_id: str) -> dict[str, Any]:
        """The app as the read that saw it published shows it."""
        return wait_for_state(
            lambda: self.graph.get(f"{APPS}/{app_id}", what="read app"),
            "publishingState", "published", ("notPublished", "processing"),
            "waiting for the app to be published", self.waits, self.waits.schedules.publish,
        )


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None
