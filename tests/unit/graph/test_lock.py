"""The notes-tag lock, against an app held in memory: wait, time out, take over stale locks,
lose a simultaneous write, refuse to write once lost, release only our own tag."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from intune_step.config.tuning import Tuning
from intune_step.errors import GraphError, SettingsError
from intune_step.graph.lock import (
    AppLock,
    AppVanishedError,
    LockBusyError,
    LockContendedError,
    LockLostError,
    LockPolicy,
)
from intune_step.graph.tags import ContentTag, LockTag, compose, content_tag, lock_tag, with_lock
from intune_step.report import RecordingReporter

START = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


class World:
    """One app, a clock that moves only when someone sleeps, and a log of PATCHes."""

    def __init__(self, notes: str = "User text") -> None:
        self.app: dict[str, Any] | None = {"id": "A", "notes": notes}
        self.seconds = 0.0
        self.patches: list[dict[str, Any]] = []
        self.after_patch: list[Any] = []  # callbacks, e.g. another run writing next

    def now(self) -> datetime:
        return START + timedelta(seconds=self.seconds)

    def sleep(self, seconds: float) -> None:
        self.seconds += seconds

    def read(self) -> dict[str, Any]:
        if self.app is None:
            raise GraphError("gone", status=404)
        return dict(self.app)

    def patch(self, app: dict[str, Any], body: dict[str, Any], what: str) -> None:
        assert self.app is not None
        self.patches.append(body)
        self.app.update(body)
        for callback in self.after_patch:
            callback()

    def policy(self, **kw: Any) -> LockPolicy:
        values = {"timeout": 60.0, "stale_after": 300.0, "heartbeat": 0.0, "settle": 2.0,
                  "poll": 5.0}
        values.update(kw)
        return LockPolicy(sleep=self.sleep, clock=lambda: self.seconds, now=self.now, **values)

    def lock(self, run_id: str = "me", **kw: Any) -> tuple[AppLock, RecordingReporter]:
        reporter = RecordingReporter()
        return AppLock(self.read, self.patch, "A", run_id, reporter, self.policy(**kw)), reporter


def test_a_free_app_is_taken_and_the_users_notes_stay() -> None:
    world = World()
    lock, _ = world.lock()
    app = lock.acquire()
    assert lock_tag(app["notes"]).run_id == "me" and app["notes"].startswith("User text\n")
    assert len(world.patches) == 1 and world.seconds == 2.0  # settled once


def test_a_fresh_lock_of_another_run_is_waited_for_then_refused() -> None:
    world = World(with_lock("x", LockTag("other", START)))
    lock, reporter = world.lock(timeout=20, poll=5)
    with pytest.raises(LockBusyError) as caught:
        lock.acquire()
    assert world.patches == [] and world.seconds == 20
    assert "run other has been publishing app A since 2026-05-01 12:00:00" in str(caught.value)
    assert "lock-timeout" in caught.value.one_line()
    assert any("waiting up to 20s" in line for line in reporter.lines)


def test_the_wait_ends_when_the_other_run_releases() -> None:
    world = World(with_lock("x", LockTag("other", START)))
    original = world.sleep

    def sleep(seconds: float) -> None:
        original(seconds)
        if world.seconds >= 10 and world.app and lock_tag(world.app["notes"]).run_id == "other":
            world.app["notes"] = with_lock(world.app["notes"], None)

    world.sleep = sleep  # type: ignore[method-assign]
    lock = AppLock(world.read, world.patch, "A", "me", RecordingReporter(),
                   world.policy(timeout=60, poll=5))
    app = lock.acquire()
    assert lock_tag(app["notes"]).run_id == "me" and world.seconds >= 10


def test_a_stale_lock_is_taken_over_with_a_warning() -> None:
    world = World(with_lock("x", LockTag("dead", START - timedelta(seconds=301))))
    lock, reporter = world.lock()
    lock.acquire()
    assert lock_tag(world.app["notes"]).run_id == "me"
    assert any("from run dead, silent for 301s" in w for w in reporter.warnings)


def test_when_two_write_at_once_the_last_writer_wins_and_the_other_waits() -> None:
    world = World()

    def other_writes_after_us() -> None:
        world.after_patch.clear()
        assert world.app is not None
        world.app["notes"] = with_lock(world.app["notes"], LockTag("other", world.now()))

    world.after_patch.append(other_writes_after_us)
    lock, _ = world.lock(timeout=10, poll=5)
    with pytest.raises(LockBusyError):
        lock.acquire()
    assert lock_tag(world.app["notes"]).run_id == "other"


def test_writes_stop_once_the_lock_is_lost_and_release_leaves_the_winner() -> None:
    world = World()
    lock, _ = world.lock()
    lock.acquire()
    world.app["notes"] = with_lock(world.app["notes"], LockTag("thief", world.now()))
    with pytest.raises(LockLostError, match="held by run thief"):
        lock.patch({"committedContentVersion": "2"}, "commit")
    with pytest.raises(LockLostError):
        lock.check()
    count = len(world.patches)
    lock.release()
    assert len(world.patches) == count and lock_tag(world.app["notes"]).run_id == "thief"


def test_patch_writes_the_content_tag_and_release_drops_only_the_lock() -> None:
    world = World()
    lock, _ = world.lock()
    lock.acquire()
    tag = ContentTag("iosLobApp", "com.a", "2", "e" * 64)
    lock.patch({"committedContentVersion": "2"}, "commit", content=tag)
    notes = world.app["notes"]
    assert content_tag(notes) == tag and lock_tag(notes).run_id == "me"
    assert world.app["committedContentVersion"] == "2"
    lock.patch({"displayName": "B"}, "metadata", release=True)
    assert world.app["notes"] == compose("User text", tag)
    before = len(world.patches)
    lock.release()  # already released with the PATCH: nothing more is written
    assert len(world.patches) == before


def test_a_background_acquire_returns_at_once_and_settles_before_any_write() -> None:
    world = World()
    gate = threading.Event()
    events: list[str] = []

    def slow_settle(seconds: float) -> None:
        gate.wait(5)
        events.append(f"settled {seconds}")

    lock = AppLock(world.read, world.patch, "A", "me", RecordingReporter(),
                   LockPolicy(timeout=60, heartbeat=0, settle=2.0, sleep=slow_settle,
                              now=world.now))
    app = lock.acquire(background=True)
    assert lock_tag(app["notes"]).run_id == "me" and events == []  # returned before settling
    assert len(world.patches) == 1
    world.after_patch.append(lambda: events.append("write"))
    threading.Timer(0.1, gate.set).start()
    lock.patch({"committedContentVersion": "2"}, "commit")
    assert events == ["settled 2.0", "write"]  # the write waited for the answer
    lock.release()


def test_a_background_acquire_that_lost_stops_before_writing_and_leaves_the_winner() -> None:
    world = World()

    def other_writes_after_us() -> None:
        world.after_patch.clear()
        assert world.app is not None
        world.app["notes"] = with_lock(world.app["notes"], LockTag("other", world.now()))

    world.after_patch.append(other_writes_after_us)
    lock, _ = world.lock()
    lock.acquire(background=True)
    with pytest.raises(LockContendedError, match="run other took app A"):
        lock.check()
    count = len(world.patches)
    with pytest.raises(LockLostError):  # answered once; later writes still refuse
        lock.patch({"committedContentVersion": "2"}, "commit")
    lock.release()
    assert len(world.patches) == count and lock_tag(world.app["notes"]).run_id == "other"


def test_a_background_acquire_starts_the_heartbeat_once_confirmed() -> None:
    world = World()
    policy = LockPolicy(timeout=5, heartbeat=0.02, settle=0, sleep=lambda s: None,
                        now=world.now)
    lock = AppLock(world.read, world.patch, "A", "me", RecordingReporter(), policy)
    lock.acquire(background=True)
    lock.confirmed()
    deadline = time.monotonic() + 5
    while len(world.patches) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    lock.release()
    assert len(world.patches) >= 2  # the lock, then at least one beat
    assert not any(t.name.startswith("intune-step-lock") and t.is_alive()
                   for t in threading.enumerate())


def test_a_deleted_app_is_reported_as_vanished() -> None:
    world = World()
    world.app = None
    lock, _ = world.lock()
    with pytest.raises(AppVanishedError):
        lock.acquire()


def test_the_heartbeat_restamps_the_lock_while_held() -> None:
    world = World()
    real_now = [START]

    def now() -> datetime:
        return real_now[0]

    policy = LockPolicy(timeout=5, heartbeat=0.02, settle=0, sleep=lambda s: None, now=now)
    lock = AppLock(world.read, world.patch, "A", "me", RecordingReporter(), policy)
    lock.acquire()
    deadline = time.monotonic() + 5
    while len(world.patches) < 4 and time.monotonic() < deadline:
        real_now[0] += timedelta(seconds=1)
        time.sleep(0.02)
    lock.release()
    assert len(world.patches) >= 4, "the heartbeat never re-stamped the lock"
    stamps = [datetime.strptime(p["notes"][-17:-1], "%Y%m%dT%H%M%SZ") for p in world.patches
              if "intune-step-lock" in p["notes"]]
    assert len(set(stamps)) >= 2  # each beat wrote the time of that beat
    assert lock_tag(world.app["notes"]) is None
    assert not any(t.name == "intune-step-lock" and t.is_alive() for t in threading.enumerate())


def test_policy_from_tuning() -> None:
    tuning = Tuning.from_environ({"INTUNE_LOCK_STALE_S": "7", "INTUNE_LOCK_POLL_S": "0.5"})
    policy = LockPolicy.tuned(30, tuning)
    assert policy.timeout == 30 and policy.stale_after == 7 and policy.poll == 0.5
    assert policy.settle == LockPolicy.settle and policy.heartbeat == LockPolicy.heartbeat
    for bad in ("x", "-1"):
        with pytest.raises(SettingsError, match="INTUNE_LOCK_SETTLE_S must be a number"):
            Tuning.from_environ({"INTUNE_LOCK_SETTLE_S": bad})
