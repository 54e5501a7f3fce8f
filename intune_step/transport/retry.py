"""When and how long to wait before trying a request again.

Three environment knobs shorten (or lengthen) every wait without touching code; they are read
by :func:`env_seconds` and nowhere else, at the moment a wait is computed:

- ``INTUNE_RETRY_BASE_DELAY``: the first backoff delay of every retry policy (default 1 s,
  doubling per attempt up to the policy's cap). A server's Retry-After still wins.
- ``INTUNE_POLL_INTERVAL``: the first interval when polling an Intune state (default 0.5 s,
  doubling up to 20 times that).
- ``INTUNE_WAIT_TIMEOUT``: the longest any one wait for an Intune state may last (default
  600 s; the commit of a large file gets more).
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx

from intune_step.errors import SettingsError

RETRY_STATUSES = frozenset({429, 502, 503, 504})
RETRY_BASE_DELAY = "INTUNE_RETRY_BASE_DELAY"
POLL_INTERVAL = "INTUNE_POLL_INTERVAL"
WAIT_TIMEOUT = "INTUNE_WAIT_TIMEOUT"


def env_seconds(name: str) -> float | None:
    """A duration knob from the environment in seconds, None when unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise SettingsError(f"{name} must be a number of seconds, not {raw!r}",
                            fix=f"unset {name}, or set it to e.g. 0.5")
    return value


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring Retry-After; bounded in count and time."""

    attempts: int = 7
    base_delay: float = 1.0
    max_delay: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    jitter: Callable[[float, float], float] = field(default=random.uniform, compare=False)

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based) when the server gave no hint."""
        base = env_seconds(RETRY_BASE_DELAY)
        base = self.base_delay if base is None else base
        ceiling = min(self.max_delay, base * 2 ** (attempt - 1))
        return self.jitter(ceiling / 2, ceiling)

    def delay_for(self, attempt: int, response: httpx.Response | None) -> float:
        hinted = retry_after(response) if response is not None else None
        if hinted is not None:
            return min(hinted, self.max_delay * 5)
        return self.backoff(attempt)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), else None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, moment.timestamp() - time.time())
