"""Bounded polling of Intune's asynchronous states."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from intune_step.errors import StuckStateError, UploadError


@dataclass(frozen=True)
class WaitPolicy:
    """Poll quickly at first, then back off to ``max_interval``; give up after ``timeout``."""

    first_interval: float = 0.5
    max_interval: float = 10.0
    timeout: float = 600.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)


def wait_for_state(
    fetch: Callable[[], dict[str, Any]],
    state_field: str,
    success: str,
    pending: Iterable[str],
    what: str,
    policy: WaitPolicy,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Poll ``fetch`` until ``state_field`` is ``success``; fail on any non-pending state."""
    pending = set(pending)
    limit = timeout if timeout is not None else policy.timeout
    started = policy.clock()
    interval = policy.first_interval
    while True:
        entity = fetch()
        state = entity.get(state_field)
        if state == success:
            return entity
        if state not in pending:
            raise UploadError(
                f"{what}: Intune reported {state_field}={state}",
                fix="re-run the step; if it fails again, check the artifact and the service "
                "health in the Intune admin center",
            )
        elapsed = policy.clock() - started
        if elapsed >= limit:
            raise StuckStateError(
                f"{what}: still {state} after {elapsed:.0f}s",
                fix="Intune is slow or stuck; re-run the step later (it resumes safely)",
            )
        policy.sleep(min(interval, max(0.0, limit - elapsed)))
        interval = min(interval * 2, policy.max_interval)
