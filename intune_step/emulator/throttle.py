"""Intune's throttling: requests counted per tenant and application over a sliding window.

The documented Intune limits (docs/protocol.md, "Throttling and transient errors") are per
20 s: 100 writes and 1000 requests of any kind per app per tenant. Past a limit Graph answers
429 with Retry-After in seconds; here Retry-After is the time until the oldest counted request
leaves the window, rounded up, so a client that honours it is answered next time. Refused
requests are not counted (a client that waits as told is never locked out).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from .config import EmulatorConfig


class Throttle:
    def __init__(self, config: EmulatorConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = config.throttle_window_s
        self._limits = {"any": config.throttle_requests, "write": config.throttle_writes}
        self._clock = clock
        self._seen: dict[tuple[str, str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, tenant: str, app: str, write: bool) -> int | None:
        """Count this request, or refuse it: the Retry-After seconds when a limit is passed."""
        kinds = ("any", "write") if write else ("any",)
        now = self._clock()
        with self._lock:
            waits = []
            for kind in kinds:
                limit = self._limits[kind]
                if limit is None:
                    continue
                seen = self._seen.setdefault((tenant, app, kind), deque())
                while seen and seen[0] <= now - self._window:
                    seen.popleft()
                if len(seen) >= limit:
                    waits.append(seen[0] + self._window - now)
            if waits:
                return max(1, math.ceil(max(waits)))
            for kind in kinds:
                if self._limits[kind] is not None:
                    self._seen[(tenant, app, kind)].append(now)
            return None
