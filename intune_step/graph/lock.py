"""One publishing run per app at a time, coordinated through a tag in the app's notes.

Graph offers no lock, no ETag on mobileApps and no conditional PATCH, and two pipelines may
run on different machines, so the only shared place is the app itself. The protocol:

1. Read the app. A fresh lock tag of another run means wait (up to ``timeout``), polling.
   A tag not refreshed for ``stale_after`` belongs to a run that died: take it over, warning.
2. PATCH our tag into notes, wait ``settle``, read again. PATCH is last-writer-wins, so when
   two runs write at once both read back the same winner and the loser goes back to waiting.
   ``settle`` only has to outlast one request's read-to-write gap. With ``background=True``
   that wait and read happen on a thread while the run does what changes nothing another run
   relies on (reads, creating its own content version, uploading); every write that matters
   waits for the answer first (:meth:`AppLock.confirmed`), and a run that lost stops there.
3. While holding it, a heartbeat re-stamps the tag every ``heartbeat`` seconds, so a long
   upload is never mistaken for a dead run, and a killed run is recognised in minutes.
4. Every write that matters (the commit, the PATCH of committedContentVersion) first checks
   the tag is still ours: two runs can never race to commit content versions.

Notes writes go through :meth:`AppLock.patch` under one mutex, so the heartbeat can never
write back an older copy of the notes over a newer one.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from intune_step.config.tuning import Tuning
from intune_step.errors import GraphError, ServiceError
from intune_step.graph.tags import ContentTag, LockTag, compose, content_tag, lock_tag, with_lock
from intune_step.report import Reporter

Patcher = Callable[[dict[str, Any], dict[str, Any], str], None]  # (app, body, what)


class LockBusyError(ServiceError):
    """Another run is publishing the same app and did not finish in time."""


class LockLostError(ServiceError):
    """Another run took the app over while this one was publishing."""


class LockContendedError(ServiceError):
    """Another run wrote its tag right after this run's: that run holds the app now."""


class AppVanishedError(ServiceError):
    """The app was deleted while this run waited for it."""


@dataclass(frozen=True)
class LockPolicy:
    timeout: float = 1800.0
    stale_after: float = 300.0
    heartbeat: float = 60.0
    settle: float = 2.0
    poll: float = 5.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), compare=False)

    @classmethod
    def tuned(cls, timeout: float, tuning: Tuning) -> LockPolicy:
        """Timings with the operator's INTUNE_LOCK_* overrides (tests, operations)."""
        chosen = {name: getattr(tuning, f"lock_{name}") for name in ("heartbeat", "settle", "poll")}
        chosen["stale_after"] = tuning.lock_stale
        return cls(timeout=timeout, **{k: v for k, v in chosen.items() if v is not None})


def new_run_id() -> str:
    host = socket.gethostname().split(".")[0][:24] or "host"
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class AppLock:
    def __init__(self, read: Callable[[], dict[str, Any]], patcher: Patcher, app_id: str,
                 run_id: str, reporter: Reporter, policy: LockPolicy) -> None:
        self._read_app = read
        self._patcher = patcher
        self.app_id = app_id
        self.run_id = run_id
        self._reporter = reporter
        self.policy = policy
        self._mutex = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._confirming: threading.Thread | None = None
        self._contended_by: str | None = None
        self._confirm_error: BaseException | None = None
        self.held = False

    def tag(self) -> LockTag:
        return LockTag(self.run_id, self.policy.now().replace(microsecond=0))

    # --- taking it -----------------------------------------------------------------------

    def acquire(self, background: bool = False) -> dict[str, Any]:
        """Wait for the app to be free, take it, and return the app as read afterwards.

        ``background``: return right after writing our tag (the app as it is with it); the
        settle and the read that confirms the tag run on a thread, and :meth:`confirmed`
        (which every write that matters calls) raises LockContendedError if another run won.
        """
        policy = self.policy
        deadline = policy.clock() + policy.timeout
        announced = False
        while True:
            app = self._read()
            holder = lock_tag(app.get("notes"))
            if holder is not None and holder.run_id != self.run_id:
                age = (policy.now() - holder.since).total_seconds()
                if age < policy.stale_after:
                    left = deadline - policy.clock()
                    if left <= 0:
                        raise LockBusyError(
                            f"run {holder.run_id} has been publishing app {self.app_id} since "
                            f"{holder.since:%Y-%m-%d %H:%M:%S} UTC; gave up after waiting "
                            f"{policy.timeout:.0f}s",
                            fix="let the other run finish, then re-run (the same file is then "
                            "'unchanged'); or raise lock-timeout",
                        )
                    if not announced:
                        self._reporter.info(
                            f"Run {holder.run_id} is publishing app {self.app_id} (since "
                            f"{holder.since:%H:%M:%S} UTC); waiting up to {left:.0f}s")
                        announced = True
                    policy.sleep(min(policy.poll, left))
                    continue
                self._reporter.warning(
                    f"Taking over app {self.app_id} from run {holder.run_id}, silent for "
                    f"{age:.0f}s (it was probably killed)")
            notes = with_lock(app.get("notes"), self.tag())
            with self._mutex:
                self._patcher(app, {"notes": notes}, "lock the app for this run")
            if background:
                self.held = True
                self._contended_by, self._confirm_error = None, None
                self._confirming = threading.Thread(target=self._confirm, daemon=True,
                                                    name="intune-step-lock-confirm")
                self._confirming.start()
                return {**app, "notes": notes}
            policy.sleep(policy.settle)
            app = self._read()
            holder = lock_tag(app.get("notes"))
            if holder is not None and holder.run_id == self.run_id:
                self._start()
                return app
            # Another run wrote after us and won; wait for it like any other holder.

    def _confirm(self) -> None:
        """The settle and the read-back of a background acquire (see acquire)."""
        try:
            self.policy.sleep(self.policy.settle)
            owner = self._owner(self._read())
            if owner == self.run_id:
                self._start()
            else:
                self._contended_by = owner or "nobody"
        except BaseException as exc:  # handed to the publishing thread by confirmed()
            self._confirm_error = exc

    def confirmed(self) -> None:
        """Wait for a background acquire's answer; raise if another run won the app."""
        thread, self._confirming = self._confirming, None
        if thread is None:
            return
        thread.join()
        if self._confirm_error is not None:
            raise self._confirm_error
        if self._contended_by is not None:
            self.held = False
            raise LockContendedError(
                f"run {self._contended_by} took app {self.app_id} at the same moment as this "
                "run; this run waits for it", fix="nothing to do: the step waits by itself")

    def adopt(self) -> None:
        """The app was created with our tag in its notes: hold it from now on."""
        self._start()

    def _start(self) -> None:
        self.held = True
        if self.policy.heartbeat > 0:
            self._stop.clear()
            self._thread = threading.Thread(target=self._beat, name="intune-step-lock",
                                            daemon=True)
            self._thread.start()

    # --- holding it ----------------------------------------------------------------------

    def _beat(self) -> None:
        while not self._stop.wait(self.policy.heartbeat):
            try:
                with self._mutex:
                    if self._stop.is_set():
                        return
                    app = self._read()
                    if self._owner(app) != self.run_id:
                        return  # taken over: the next check() says so and stops the run
                    self._patcher(app, {"notes": with_lock(app.get("notes"), self.tag())},
                                  "refresh the lock")
            except Exception as exc:  # a missed beat is not fatal; the next one may work
                self._reporter.warning(f"Could not refresh the lock on app {self.app_id}: "
                                       f"{getattr(exc, 'message', exc)}")

    def check(self, just_read: dict[str, Any] | None = None) -> dict[str, Any]:
        """Raise unless this run still holds the app; returns the app as read.
        ``just_read``: the app as the caller read it a moment ago (the last poll of a wait),
        checked instead of reading it again."""
        self.confirmed()
        with self._mutex:
            app = just_read if just_read is not None else self._read()
            self._require(app)
            return app

    def patch(self, body: dict[str, Any], what: str, content: ContentTag | None = None,
              release: bool = False, user_notes: str | None = None,
              just_read: dict[str, Any] | None = None) -> dict[str, Any]:
        """PATCH ``body`` plus notes (our content tag, lock kept or dropped), while held.
        ``user_notes`` replaces the user's part of the notes; None keeps it. ``just_read``
        as for :meth:`check`: only a read made after this run's last write, moments ago."""
        self.confirmed()
        if release:
            self._halt()  # outside the mutex: the heartbeat may be waiting for it
        with self._mutex:
            app = just_read if just_read is not None else self._read()
            self._require(app)
            notes = app.get("notes") if user_notes is None else user_notes
            lock = None if release else self.tag()
            current = content or content_tag(app.get("notes"))
            new_notes = compose(notes, current, lock) if current else with_lock(notes, lock)
            self._patcher(app, {**body, "notes": new_notes}, what)
            return app

    def _require(self, app: dict[str, Any]) -> None:
        owner = self._owner(app)
        if owner != self.run_id:
            self.held = False
            raise LockLostError(
                f"app {self.app_id} is now held by run {owner or 'nobody'}; this run "
                "stopped before committing so the two cannot both publish",
                fix="re-run the step after the other run finishes",
            )

    @staticmethod
    def _owner(app: dict[str, Any]) -> str | None:
        holder = lock_tag(app.get("notes"))
        return holder.run_id if holder else None

    # --- letting go ----------------------------------------------------------------------

    def _halt(self) -> None:
        confirming, self._confirming = self._confirming, None
        if confirming is not None:
            confirming.join()  # before stopping: it may be about to start the heartbeat
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        self.held = False

    def abandon(self) -> None:
        """Stop holding without writing: the app is about to be deleted."""
        self._halt()

    def release(self) -> None:
        """Drop our tag if it is still there; never fails the run."""
        if not self.held:
            self._halt()
            return
        self._halt()
        try:
            with self._mutex:
                app = self._read()
                if self._owner(app) == self.run_id:
                    self._patcher(app, {"notes": with_lock(app.get("notes"), None)},
                                  "unlock the app")
        except ServiceError as exc:
            self._reporter.warning(f"Could not remove this run's lock from app {self.app_id}: "
                                   f"{exc.one_line()} (another run takes it over after "
                                   f"{self.policy.stale_after:.0f}s)")

    def _read(self) -> dict[str, Any]:
        try:
            return self._read_app()
        except GraphError as exc:
            if exc.status == 404:
                raise AppVanishedError(f"app {self.app_id} was deleted meanwhile",
                                       fix="re-run the step") from exc
            raise
