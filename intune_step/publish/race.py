"""Two runs that both found no app both create one: the oldest is kept by all.

A listing may not yet show an app whose create request was still being processed when it was
served, so each run lists the apps ``settle`` after its own create: by then every app created
before its own is visible, and all runs agree on the oldest (creation time, then id). The check
runs on a thread of its own while the content version is created and uploaded, and is settled
before the commit, so a run that lost never commits (docs/performance.md, "The creation
check"): on the service the upload URL alone takes longer than ``settle``, so it costs no wait.
"""

from __future__ import annotations

import threading
from typing import Any

from intune_step.artifacts.base import AppMetadata
from intune_step.graph.lock import LockPolicy
from intune_step.graph.lookup import AppFinder


class LostCreationRace(Exception):
    """Another run created the same app first; this run publishes into ``winner``."""

    def __init__(self, winner: str) -> None:
        super().__init__(winner)
        self.winner = winner


class CreationCheck:
    """Started right after the create; :meth:`settle` answers whether this run's app stays."""

    def __init__(
        self, finder: AppFinder, meta: AppMetadata, created: dict[str, Any], policy: LockPolicy
    ) -> None:
        self._finder = finder
        self._meta = meta
        self._created = created
        self._policy = policy
        self._winner: str | None = None
        self._error: Exception | None = None
        self._thread = threading.Thread(
            target=self._run, name="intune-step-creation-check", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        try:
            self._policy.sleep(self._policy.settle)
            found = self._finder.candidates(self._meta, known=self._created)
            if found and str(found[0]["id"]) != str(self._created["id"]):
                self._winner = str(found[0]["id"])
        except Exception as exc:  # handed to the publishing thread by settle()
            self._error = exc

    def settle(self) -> None:
        """Wait for the check; raise LostCreationRace when another run's app is older."""
        self._thread.join()
        if self._error is not None:
            raise self._error  # as if the check had run here
        if self._winner is not None:
            raise LostCreationRace(self._winner)
