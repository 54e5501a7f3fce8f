"""The one retry loop: send, and after a transient failure wait and send again.

Graph, Azure Blob, the MSAL transport and the CI token endpoints differ only in what they
call transient, how they word a retry and a final failure, and what they can repair on the
spot (a fresh token after 401, a renewed upload URL after 403). Those come in as parameters;
counting, waiting (Retry-After first, else backoff) and the warning per retry live here once.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass

import httpx

from intune_step.transport.deadline import Deadline
from intune_step.transport.diagnose import is_permanent
from intune_step.transport.retry import RETRY_STATUSES, RetryPolicy

# What Entra and the CI token services may answer when busy or down: 429 and every 5xx.
THROTTLED_OR_5XX = RETRY_STATUSES | frozenset(range(500, 600))

Send = Callable[[], httpx.Response]


@dataclass(frozen=True)
class LastAnswer:
    """The answer the loop stopped at, and what it took to get there."""

    response: httpx.Response
    attempts: int  # requests sent, this one included
    waited: float  # seconds slept between them
    exhausted: bool  # a status the loop retries, but tries ran out (or ``stop`` said so)


def may_have_arrived(error: Exception) -> bool:
    """A refused connection never reached the service; any later failure may have."""
    return not isinstance(error, httpx.ConnectError)


def request_id_note(header: str) -> Callable[[httpx.Response], str]:
    """`` (request-id X)`` from response header ``header``, or nothing when it is absent."""

    def note(response: httpx.Response) -> str:
        rid = response.headers.get(header)
        return f" (request-id {rid})" if rid else ""

    return note


def send_with_retries(
    send: Send,
    policy: RetryPolicy,
    what: str,
    *,
    warn: Callable[[str], None] | None = None,
    statuses: Container[int] = RETRY_STATUSES,
    detail: Callable[[httpx.Response], str] | None = None,
    recover: Callable[[httpx.Response], bool] | None = None,
    errors: tuple[type[Exception], ...] = (httpx.TransportError,),
    repeat_sent: bool = True,
    stop: Callable[[], bool] | None = None,
    unreachable: Callable[[Exception, int], Exception] | None = None,
    deadline: Deadline | None = None,
    hold: Callable[[httpx.Response, float, int], bool] | None = None,
) -> LastAnswer:
    """Call ``send`` until its answer is not one of ``statuses`` or the policy's tries run out.

    - ``warn`` gets one line per retry: ``{what}: HTTP 503{detail}; retrying in 2.0s
      (attempt 1 of 7)``, or the exception's class name instead of the status.
    - ``recover`` sees every answer first; True means it repaired the cause (signed in again,
      renewed a URL) and the request goes again at once. That try still counts.
    - ``errors`` are the exceptions worth another try (none: they go straight up). One raised
      after the request may have gone out is repeated only when ``repeat_sent``: a POST that
      creates something must not run twice.
    - ``stop`` returning True ends the retrying (the job is cancelled, a sibling failed); so
      does a spent ``deadline`` (the network time the call may use, see deadline.py), and a
      connection failure that another try cannot cure (an untrusted certificate).
    - ``hold(response, delay, attempt)`` sees each answer to be retried; True means a shared
      throttle gate took the wait (throttle.py): it reported it, once for all workers, and the
      next ``send`` waits at the gate, so this loop neither warns nor sleeps.
    - When an error is not tried again, ``unreachable(error, attempts)`` words the exception
      raised (chained to the error); without it the error itself goes up.

    The caller reads the returned answer: success, a final refusal, or (``exhausted``) the
    last of a run of transient failures.
    """
    attempt = 0
    waited = 0.0

    def give_up() -> bool:
        return (attempt >= policy.attempts or (stop is not None and stop())
                or (deadline is not None and deadline.expired()))

    while True:
        attempt += 1
        try:
            response = send()
        except errors as exc:
            unsafe = not repeat_sent and may_have_arrived(exc)
            if unsafe or is_permanent(exc) or give_up():
                if unreachable is None:
                    raise
                raise unreachable(exc, attempt) from exc
            delay = policy.backoff(attempt)
            failure = type(exc).__name__
        else:
            if recover is not None and recover(response):
                continue
            if response.status_code not in statuses:
                return LastAnswer(response, attempt, waited, exhausted=False)
            if give_up():
                return LastAnswer(response, attempt, waited, exhausted=True)
            delay = policy.delay_for(attempt, response)
            if hold is not None and hold(response, delay, attempt):
                waited += delay
                continue
            failure = f"HTTP {response.status_code}{detail(response) if detail else ''}"
        if warn is not None:
            warn(f"{what}: {failure}; retrying in {delay:.1f}s "
                 f"(attempt {attempt} of {policy.attempts})")
        policy.sleep(delay)
        waited += delay
