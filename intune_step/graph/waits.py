"""Bounded polling of Intune's asynchronous states, and the two bounded second chances.

Every wait here ends: in the state asked for, in an error naming the state it saw and the
request-id of the read that saw it, or in an error after a time limit. Durations can be
shortened through the environment knobs of :mod:`intune_step.config.tuning`, where every
wait's poll schedule is defined.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from intune_step.config.tuning import PollSchedule, Tuning, WaitSchedules
from intune_step.errors import GraphError, StuckStateError, UploadError
from intune_step.report import Reporter

T = TypeVar("T")
# Intune's whole message when it refuses the PATCH right after a large commit
# (docs/protocol.md, "400 after a large commit").
COOLDOWN_MESSAGE = "An error has occurred"
# A state that says "not yet, for a passing reason" while waiting for any other (terraform
# keeps polling through it; docs/protocol.md, "Upload states and retries"); the wait stays
# bounded.
TRANSIENT_STATES = frozenset({"transientError"})


class UnexpectedStateError(UploadError):
    """Intune reported a state that is neither the one waited for nor a pending one."""

    def __init__(self, message: str, *, state: str, fix: str | None = None,
                 request_id: str | None = None) -> None:
        super().__init__(message, fix=fix, request_id=request_id)
        self.state = state


@dataclass(frozen=True)
class WaitPolicy:
    """How each wait polls (``schedules``, tuned per state in config/tuning.py) and when it
    gives up (``timeout``). ``cap``, when set (INTUNE_WAIT_TIMEOUT), bounds every wait,
    however long its own timeout would be.
    """

    schedules: WaitSchedules = field(default_factory=WaitSchedules)
    timeout: float = 600.0
    cap: float | None = None
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    @classmethod
    def tuned(cls, tuning: Tuning) -> WaitPolicy:
        """The operator's schedules (INTUNE_POLL_INTERVAL) and wait cap."""
        return cls(schedules=tuning.wait_schedules(), cap=tuning.wait_timeout)

    def limit(self, timeout: float | None = None) -> float:
        """How long one wait may last: the cap, else ``timeout``, else ours."""
        if self.cap is not None:
            return self.cap
        return timeout if timeout is not None else self.timeout


def wait_for_state(
    fetch: Callable[[], dict[str, Any]],
    state_field: str,
    success: str,
    pending: Iterable[str],
    what: str,
    policy: WaitPolicy,
    schedule: PollSchedule,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Poll ``fetch`` on ``schedule`` until ``state_field`` is ``success``; fail on any
    non-pending state."""
    pending = set(pending) | TRANSIENT_STATES
    limit = policy.limit(timeout)
    delays = schedule.delays()
    started = policy.clock()
    polls = 0
    while True:
        entity = fetch()
        polls += 1
        state = entity.get(state_field)
        # GraphClient hands back entities that remember their response's request-id.
        request_id = getattr(entity, "request_id", None)
        if state == success:
            return entity
        if state not in pending:
            raise UnexpectedStateError(
                f"{what}: Intune reported {state_field}={state}",
                state=str(state), request_id=request_id,
                fix="re-run the step; if it fails again, check the artifact and the service "
                "health in the Intune admin center",
            )
        elapsed = policy.clock() - started
        if elapsed >= limit:
            raise StuckStateError(
                f"{what}: still {state} after {elapsed:.0f}s ({polls} reads)",
                request_id=request_id,
                fix="Intune is slow or stuck; re-run the step later",
            )
        policy.sleep(min(next(delays), max(0.0, limit - elapsed)))


def again_on_states(
    attempt: Callable[[], T],
    states: Collection[str],
    what: str,
    reporter: Reporter,
    tries: int = 2,
) -> T:
    """Run ``attempt``; if it ends in one of ``states``, run it again, at most ``tries`` times.

    For the failures other clients get past by starting that step over: a content file whose
    upload URL was never granted (IntuneBrew requests a new one), a commit that failed or timed
    out (terraform commits again). A content mismatch fails every time, so it still fails.
    """
    for number in range(1, tries + 1):
        try:
            return attempt()
        except UnexpectedStateError as exc:
            if exc.state not in states or number == tries:
                raise
            rid = f" (request-id {exc.request_id})" if exc.request_id else ""
            reporter.warning(f"{exc.message}{rid}; {what} (attempt {number + 1} of {tries})")
    raise AssertionError("unreachable")  # pragma: no cover


def retry_through_cooldown(call: Callable[[], T], what: str, policy: WaitPolicy,
                           reporter: Reporter) -> T:
    """Repeat ``call`` while Graph answers 400 "An error has occurred", within the wait limit.

    Right after the commit of a large file Intune refuses PATCH committedContentVersion this
    way for a while (Microsoft's own sample sleeps 180 s first). Any other error, or one that
    outlasts the limit, is raised as it came.
    """
    limit = policy.limit()
    delays = policy.schedules.cooldown.delays()
    started = policy.clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except GraphError as exc:
            elapsed = policy.clock() - started
            if exc.status != 400 or COOLDOWN_MESSAGE not in exc.message or elapsed >= limit:
                if attempt > 1:
                    exc.message += f" (still refused after {attempt} tries over {elapsed:.0f}s)"
                    exc.args = (exc.message,)
                raise
            delay = min(next(delays), max(0.0, limit - elapsed))
            rid = f" (request-id {exc.request_id})" if exc.request_id else ""
            reporter.warning(f"{what}: Intune answered 400 '{COOLDOWN_MESSAGE}'{rid}, as it does "
                             f"for a while after a large commit; trying again in {delay:.1f}s")
            policy.sleep(delay)
