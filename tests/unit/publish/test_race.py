"""The creation check (publish/race.py): it runs beside the upload, settles on demand, keeps the
oldest app, and hands a failure of its listing to the publishing thread."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from intune_step.errors import GraphError
from intune_step.graph.lock import LockPolicy
from intune_step.publish.race import CreationCheck, LostCreationRace

MINE = {"id": "mine", "createdDateTime": "2026-01-02T00:00:00Z"}


class Finder:
    def __init__(self, found: list[dict[str, Any]] | Exception) -> None:
        self.found = found
        self.known: list[dict[str, Any] | None] = []

    def candidates(self, meta: Any, known: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.known.append(known)
        if isinstance(self.found, Exception):
            raise self.found
        return self.found


def check(finder: Finder, sleep: Any = lambda s: None) -> CreationCheck:
    policy = LockPolicy(settle=2.0, sleep=sleep)
    return CreationCheck(finder, object(), MINE, policy)  # type: ignore[arg-type]


def test_alone_the_app_stays_and_the_listing_is_told_which_app_is_ours() -> None:
    finder = Finder([MINE])
    check(finder).settle()
    assert finder.known == [MINE]


def test_an_older_app_of_another_run_wins() -> None:
    older = {"id": "theirs", "createdDateTime": "2026-01-01T00:00:00Z"}
    with pytest.raises(LostCreationRace) as lost:
        check(Finder([older, MINE])).settle()
    assert lost.value.winner == "theirs"


def test_the_check_waits_the_settle_on_its_own_thread_and_settle_waits_for_it() -> None:
    started, release = threading.Event(), threading.Event()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        started.set()
        release.wait(5)

    running = check(Finder([MINE]), sleep)
    assert started.wait(5) and slept == [2.0]  # the caller was not held up meanwhile
    threading.Timer(0.05, release.set).start()
    running.settle()


def test_a_failed_listing_fails_the_publish_where_it_settles() -> None:
    failure = GraphError("list failed", status=500)
    running = check(Finder(failure))
    with pytest.raises(GraphError, match="list failed"):
        running.settle()
