"""The content file's upload URL, renewed through Graph shortly before it expires."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from intune_step.graph.client import GraphClient
from intune_step.graph.waits import UnexpectedStateError, WaitPolicy, wait_for_state
from intune_step.report import Reporter

RENEW_MARGIN = timedelta(minutes=3)
RENEW_PENDING = ("azureStorageUriRenewalPending", "azureStorageUriRequestSuccess")
RENEW_FAILED = ("azureStorageUriRenewalFailed", "azureStorageUriRenewalTimedOut")


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
        """Renew; after a failed renewal try once more, then go on with the URI we have
        (as IntuneWin32App does): it may still be valid, and if not Azure's 403 says so."""
        for attempt in (1, 2):
            self._reporter.info("Renewing the upload URL")
            self._graph.post(f"{self._file_path}/renewUpload", {}, what="renew the upload URL")
            try:
                entity = wait_for_state(
                    lambda: self._graph.get(self._file_path, what="read the content file"),
                    "uploadState", "azureStorageUriRenewalSuccess", RENEW_PENDING,
                    "renewing the upload URL", self._waits, self._waits.schedules.renewal,
                    timeout=300,
                )
            except UnexpectedStateError as exc:
                if exc.state not in RENEW_FAILED:
                    raise
                rid = f" (request-id {exc.request_id})" if exc.request_id else ""
                self._reporter.warning(f"{exc.message}{rid}; " + (
                    "renewing again" if attempt == 1 else "going on with the current URL"))
                continue
            self._set(entity)
            return
        self._expires = None  # no more renewals ahead of time for this URL: 403s will tell


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
