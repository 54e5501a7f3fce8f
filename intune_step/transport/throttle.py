"""One throttle gate per (tenant, application), shared by every worker of a run.

Graph throttles per tenant and per application (docs/protocol.md, "Throttling and transient
errors"): a 429 with Retry-After told to one call holds for every call the same app makes to
the same tenant. So the wait is kept here, not in each call's retry loop: the worker that is
told to wait closes the gate until then and reports it once; every worker consults the gate
before each request and sleeps until it opens. A later, longer Retry-After moves the opening
later; a shorter one never brings it earlier.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

REPORT_GROWTH = 1.0  # seconds a closed gate's wait must grow by to be reported again


class ThrottleGate:
    """Closed until a moment on the monotonic clock; ``wait`` sleeps until it opens."""

    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = name  # for the one report line, e.g. "tenant contoso, app 1111…"
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._open_at = 0.0
        self.closures = 0  # how many times a wait was reported (tests, the benchmark)

    def close_for(self, seconds: float) -> bool:
        """Hold every request for ``seconds`` from now; True when that is news to report: the
        gate was open, or the wait grows by a second or more. Workers told to wait at nearly
        the same moment move the opening a little later, silently."""
        with self._lock:
            now = self._clock()
            until = now + max(0.0, seconds)
            if until <= self._open_at:
                return False
            news = self._open_at <= now or until - self._open_at >= REPORT_GROWTH
            self._open_at = until
            self.closures += news
            return news

    def remaining(self) -> float:
        with self._lock:
            return max(0.0, self._open_at - self._clock())

    def wait(self) -> float:
        """Sleep until the gate opens; again if it was closed for longer meanwhile. The
        seconds slept. (Planned, not re-read after each sleep: a test's sleep may not pass.)"""
        slept = 0.0
        with self._lock:
            target = self._open_at
            left = target - self._clock()
        while left > 0:
            self._sleep(left)
            slept += left
            with self._lock:
                if self._open_at <= target:
                    break
                left, target = self._open_at - target, self._open_at
        return slept


class ThrottleGates:
    """The run's gates, one per (tenant, client id), made on first use; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock, self._sleep = clock, sleep
        self._gates: dict[tuple[str, str], ThrottleGate] = {}
        self._lock = threading.Lock()

    def gate(self, tenant: str, client_id: str) -> ThrottleGate:
        key = (tenant.lower(), client_id.lower())
        with self._lock:
            if key not in self._gates:
                self._gates[key] = ThrottleGate(f"tenant {tenant}, app {client_id}",
                                                self._clock, self._sleep)
            return self._gates[key]
