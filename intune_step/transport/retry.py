"""When and how long to wait before trying a request again.

Each client keeps its own policy (attempts and cap); :meth:`RetryPolicy.tuned` applies the
operator's INTUNE_RETRY_BASE_DELAY (config/tuning.py) to any of them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime

import httpx

from intune_step.config.tuning import Tuning

RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring Retry-After; bounded in count and time."""

    attempts: int = 7
    base_delay: float = 1.0
    max_delay: float = 60.0
    # Seconds one call may spend waiting on the network over all its tries (deadline.py).
    deadline: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    jitter: Callable[[float, float], float] = field(default=random.uniform, compare=False)

    def tuned(self, tuning: Tuning) -> RetryPolicy:
        """This policy with the operator's first backoff delay and deadline, where set."""
        tuned = self
        if tuning.retry_base_delay is not None:
            tuned = replace(tuned, base_delay=tuning.retry_base_delay)
        if tuning.request_deadline is not None:
            tuned = replace(tuned, deadline=tuning.request_deadline)
        return tuned

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based) when the server gave no hint."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
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
