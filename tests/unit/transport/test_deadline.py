"""A call's deadline: every try gets what is left; a trickling answer is cut off."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from intune_step.transport.attempts import send_with_retries
from intune_step.transport.deadline import MIN_TRY, Deadline
from intune_step.transport.retry import RetryPolicy

URL = "https://service.test/thing"


class Clock:
    """A clock that moves only when told: the tests spend time without sleeping."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def trickle(clock: Clock, chunks: int, seconds_each: float) -> httpx.Client:
    """A service that answers at once but sends its body a chunk every ``seconds_each``."""

    def body() -> Iterator[bytes]:
        for _ in range(chunks):
            clock.now += seconds_each
            yield b"x"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())

    return httpx.Client(transport=httpx.MockTransport(handler),
                        timeout=httpx.Timeout(connect=15, read=120, write=120, pool=60))


def test_each_try_gets_what_is_left_as_its_timeouts() -> None:
    clock = Clock()
    deadline = Deadline(10.0, clock)
    seen: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        clock.now += 4.0  # each try takes 4 s of the budget
        return httpx.Response(503)

    with httpx.Client(transport=httpx.MockTransport(handler),
                      timeout=httpx.Timeout(connect=15, read=120, write=120, pool=60)) as client:
        for _ in range(3):
            deadline.send(client, "GET", URL)
    assert [t["read"] for t in seen] == [10.0, 6.0, 2.0]
    assert seen[0]["connect"] == 10.0 and seen[2]["connect"] == 2.0
    assert deadline.expired()
    # Spent, the budget still lets one real request out rather than none.
    assert deadline.timeout(httpx.Timeout(30)).read == MIN_TRY


def test_a_trickling_answer_is_cut_off_at_the_deadline() -> None:
    clock = Clock()
    with (trickle(clock, chunks=100, seconds_each=1.0) as client,
          pytest.raises(httpx.ReadTimeout, match="did not complete within 5 s")):
        Deadline(5.0, clock).send(client, "GET", URL)
    assert clock.now == 5.0  # it stopped reading at the deadline, not after 100 chunks


def test_an_answer_within_the_deadline_is_read_whole() -> None:
    clock = Clock()
    deadline = Deadline(5.0, clock)
    with trickle(clock, chunks=3, seconds_each=1.0) as client:
        response = deadline.send(client, "GET", URL)
    assert response.content == b"xxx"
    assert deadline.remaining() == 2.0


def test_the_retry_loop_stops_when_the_deadline_is_spent() -> None:
    clock = Clock()
    deadline = Deadline(5.0, clock)
    calls = 0

    def send() -> httpx.Response:
        nonlocal calls
        calls += 1
        clock.now += 2.0
        deadline._spent += 2.0  # as Deadline.send charges a try
        return httpx.Response(503, request=httpx.Request("GET", URL))

    policy = RetryPolicy(attempts=10, sleep=lambda s: None)
    outcome = send_with_retries(send, policy, "get thing", deadline=deadline)
    assert outcome.exhausted and outcome.response.status_code == 503
    assert calls == 3  # 2 + 2 + 2 s: the third try spent the budget; seven more were allowed


def test_sleeping_between_tries_is_not_charged() -> None:
    clock = Clock()
    deadline = Deadline(5.0, clock)

    def handler(request: httpx.Request) -> httpx.Response:
        clock.now += 1.0
        return httpx.Response(503 if handler.calls < 2 else 200)  # type: ignore[attr-defined]

    def sleep(seconds: float) -> None:
        clock.now += 100.0  # a long Retry-After wait

    handler.calls = 0  # type: ignore[attr-defined]

    def send() -> httpx.Response:
        response = deadline.send(client, "GET", URL)
        handler.calls += 1  # type: ignore[attr-defined]
        return response

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        outcome = send_with_retries(send, RetryPolicy(attempts=5, sleep=sleep), "get thing",
                                    deadline=deadline)
    assert outcome.response.status_code == 200
    assert deadline.remaining() == 2.0
