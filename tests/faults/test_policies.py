"""The retry and wait policies on their own: knobs, bounds, second chances, the cool-down."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from intune_step.config.tuning import PollSchedule, WaitSchedules
from intune_step.errors import GraphError, StuckStateError
from intune_step.graph.client import GraphResult
from intune_step.graph.waits import (
    UnexpectedStateError,
    WaitPolicy,
    again_on_states,
    retry_through_cooldown,
    wait_for_state,
)
from intune_step.report import Reporter
from intune_step.transport.retry import RetryPolicy


class Clock:
    """A fake monotonic clock that sleeping advances."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


class Warnings(Reporter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        self.lines.append(message)

    def error(self, message: str) -> None:
        pass

    def mask(self, secret: str) -> None:
        pass

    def progress(self, label: str, done: int, total: int) -> None:
        pass


def test_retry_after_wins_over_backoff_but_is_capped() -> None:
    policy = RetryPolicy(max_delay=10.0)
    assert policy.delay_for(1, httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    assert policy.delay_for(1, httpx.Response(429, headers={"Retry-After": "99999"})) == 50.0
    garbage = httpx.Response(429, headers={"Retry-After": "whenever"})
    assert 0 < policy.delay_for(1, garbage) <= 1.0


def entity(state: str, rid: str = "rid-1") -> GraphResult:
    result = GraphResult({"uploadState": state})
    result.request_id = rid
    return result


def test_a_stuck_state_fails_after_the_limit_naming_state_and_request() -> None:
    clock = Clock()
    policy = WaitPolicy(schedules=WaitSchedules.uniform(1, 4), timeout=30, sleep=clock.sleep,
                        clock=clock)
    with pytest.raises(StuckStateError) as caught:
        wait_for_state(lambda: entity("commitFilePending", "rid-9"), "uploadState",
                       "commitFileSuccess", ["commitFilePending"], "waiting", policy,
                       policy.schedules.commit)
    assert "still commitFilePending after 30s" in caught.value.message
    assert caught.value.request_id == "rid-9"
    assert clock.sleeps[:4] == [1, 2, 4, 4] and sum(clock.sleeps) == 30


def test_transient_error_is_waited_through() -> None:
    states = iter(["commitFilePending", "transientError", "transientError", "commitFileSuccess"])
    clock = Clock()
    policy = WaitPolicy(sleep=clock.sleep, clock=clock)
    done = wait_for_state(lambda: entity(next(states)), "uploadState", "commitFileSuccess",
                          ["commitFilePending"], "waiting", policy, policy.schedules.commit)
    assert done["uploadState"] == "commitFileSuccess" and len(clock.sleeps) == 3


def test_a_failed_state_carries_the_state() -> None:
    with pytest.raises(UnexpectedStateError) as caught:
        wait_for_state(lambda: entity("commitFileFailed"), "uploadState", "commitFileSuccess",
                       ["commitFilePending"], "waiting", WaitPolicy(), PollSchedule())
    assert caught.value.state == "commitFileFailed" and caught.value.request_id == "rid-1"


def test_again_on_states_is_bounded_and_logged() -> None:
    calls: list[int] = []
    warnings = Warnings()

    def fails_once() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise UnexpectedStateError("x: commitFileFailed", state="commitFileFailed",
                                       request_id="rid-2")
        return "ok"

    assert again_on_states(fails_once, ["commitFileFailed"], "again", warnings) == "ok"
    assert len(calls) == 2 and "request-id rid-2" in warnings.lines[0]

    def always(state: str) -> Any:
        calls.append(1)
        raise UnexpectedStateError(state, state=state)

    calls.clear()
    with pytest.raises(UnexpectedStateError):
        again_on_states(lambda: always("commitFileFailed"), ["commitFileFailed"], "a", warnings)
    assert len(calls) == 2
    calls.clear()
    with pytest.raises(UnexpectedStateError):  # a state not listed is not tried again
        again_on_states(lambda: always("error"), ["commitFileFailed"], "a", warnings)
    assert len(calls) == 1


def cooldown_error(message: str = "An error has occurred", status: int = 400) -> GraphError:
    return GraphError(f"set the committed content version failed: HTTP {status}: {message}",
                      status=status, request_id="rid-3")


def test_cooldown_retries_only_the_generic_400_within_the_limit() -> None:
    clock = Clock()
    policy = WaitPolicy(schedules=WaitSchedules.uniform(1, 8), timeout=20, sleep=clock.sleep,
                        clock=clock)
    answers: list[Any] = [cooldown_error(), cooldown_error(), "done"]

    def patch() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    warnings = Warnings()
    assert retry_through_cooldown(patch, "set it", policy, warnings) == "done"
    assert len(warnings.lines) == 2 and clock.sleeps == [1, 2]

    with pytest.raises(GraphError) as caught:  # a validation 400 is not waited out
        retry_through_cooldown(lambda: (_ for _ in ()).throw(cooldown_error("bad field")),
                               "set it", policy, warnings)
    assert "still refused" not in caught.value.message

    clock.sleeps.clear()
    with pytest.raises(GraphError) as caught:  # the cool-down outlasts the limit
        retry_through_cooldown(lambda: (_ for _ in ()).throw(cooldown_error()), "set it",
                               policy, warnings)
    assert "still refused after" in caught.value.message
    assert sum(clock.sleeps) == pytest.approx(20)
