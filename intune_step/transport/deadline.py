"""A deadline for one call: the time it may spend waiting on the network, all tries included.

httpx's timeouts bound each network operation, so a service that takes the request and never
answers costs the full read timeout on every retry, and one that trickles its answer a byte at
a time is never stopped at all. A :class:`Deadline` gives each call one budget: every try gets
what is left of it as its timeouts, a trickling answer is cut off once the budget is spent, and
the retry loop stops trying when nothing is left. Sleeping between tries (a Retry-After the
service asked for) is not charged: that is the retry policy's to bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

# A try never gets less than this, so a nearly spent budget still sends one real request.
MIN_TRY = 0.05


class Deadline:
    """The network time one call may use; each :meth:`send` charges what it took."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._spent = 0.0

    def remaining(self) -> float:
        return max(0.0, self.seconds - self._spent)

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def timeout(self, base: httpx.Timeout) -> httpx.Timeout:
        """``base`` with every phase cut to what is left of the budget."""
        left = max(self.remaining(), MIN_TRY)

        def cut(value: float | None) -> float:
            return left if value is None else min(value, left)

        return httpx.Timeout(connect=cut(base.connect), read=cut(base.read),
                             write=cut(base.write), pool=cut(base.pool))

    def send(self, client: httpx.Client, method: str, url: str | httpx.URL,
             base: httpx.Timeout | None = None, **request: Any) -> httpx.Response:
        """One try of the call: the whole answer within what is left, or ReadTimeout.

        ``base``: this call's own timeouts instead of the client's (a local endpoint that
        answers at once or not at all)."""
        base = base or client.timeout
        outgoing = client.build_request(method, url, timeout=self.timeout(base), **request)
        started = self._clock()
        try:
            response = client.send(outgoing, stream=True)
            try:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if self._clock() - started >= self.remaining():
                        raise httpx.ReadTimeout(
                            f"the answer did not complete within {self.seconds:g} s",
                            request=outgoing)
            finally:
                response.close()
            # What Response.read() would have stored; the body was read above, under watch.
            response._content = bytes(body)
            return response
        finally:
            self._spent += self._clock() - started
