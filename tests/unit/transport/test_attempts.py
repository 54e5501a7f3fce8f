"""The shared retry loop on its own: scripted answers and errors, no network, no sleeping."""

from __future__ import annotations

import httpx
import pytest

from intune_step.errors import ServiceError
from intune_step.transport.attempts import (
    THROTTLED_OR_5XX,
    request_id_note,
    send_with_retries,
)
from intune_step.transport.retry import RetryPolicy

from ..conftest import Sleeps  # the `sleeps` fixture comes from there too

URL = "https://service.test/thing"
Step = int | httpx.Response | type[Exception]


class Script:
    """A ``send`` that plays its steps in order: a status, a prepared response, or an error."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.calls = 0

    def __call__(self) -> httpx.Response:
        self.calls += 1
        step = self.steps.pop(0)
        if isinstance(step, httpx.Response):
            return step
        if isinstance(step, int):
            return httpx.Response(step, request=httpx.Request("GET", URL))
        raise step("scripted")


@pytest.fixture
def policy(sleeps: Sleeps) -> RetryPolicy:
    # jitter takes the top of each range: backoff is exactly 1, 2, 4... seconds
    return RetryPolicy(attempts=4, sleep=sleeps, jitter=lambda lo, hi: hi)


@pytest.fixture
def warnings() -> list[str]:
    return []


def unreachable(error: Exception, attempts: int) -> ServiceError:
    return ServiceError(f"thing failed: {type(error).__name__} after {attempts} attempt(s)")


def test_transient_statuses_are_retried_then_the_answer_is_returned(
    policy: RetryPolicy, sleeps: Sleeps, warnings: list[str]
) -> None:
    send = Script(503, 429, 200)
    outcome = send_with_retries(send, policy, "get thing", warn=warnings.append)
    assert outcome.response.status_code == 200
    assert (outcome.attempts, outcome.waited, outcome.exhausted) == (3, 3.0, False)
    assert sleeps == [1.0, 2.0]
    assert warnings == ["get thing: HTTP 503; retrying in 1.0s (attempt 1 of 4)",
                        "get thing: HTTP 429; retrying in 2.0s (attempt 2 of 4)"]


def test_retry_after_wins_over_backoff(policy: RetryPolicy, sleeps: Sleeps) -> None:
    throttled = httpx.Response(429, headers={"Retry-After": "7"})
    outcome = send_with_retries(Script(throttled, 200), policy, "get thing")
    assert outcome.response.status_code == 200
    assert sleeps == [7.0]
    assert outcome.waited == 7.0


def test_other_statuses_come_back_at_once(policy: RetryPolicy, sleeps: Sleeps,
                                          warnings: list[str]) -> None:
    send = Script(500, 200)  # 500 is not among the default statuses
    outcome = send_with_retries(send, policy, "get thing", warn=warnings.append)
    assert outcome.response.status_code == 500
    assert (outcome.attempts, outcome.exhausted) == (1, False)
    assert sleeps == [] and warnings == [] and send.calls == 1


def test_gives_up_after_the_policys_attempts(policy: RetryPolicy, sleeps: Sleeps,
                                             warnings: list[str]) -> None:
    send = Script(*[503] * 5)
    outcome = send_with_retries(send, policy, "get thing", warn=warnings.append)
    assert outcome.response.status_code == 503
    assert (outcome.attempts, outcome.waited, outcome.exhausted) == (4, 7.0, True)
    assert send.calls == 4 and sleeps == [1.0, 2.0, 4.0]
    assert warnings[-1] == "get thing: HTTP 503; retrying in 4.0s (attempt 3 of 4)"


def test_connection_errors_are_retried_and_then_worded_by_the_caller(
    policy: RetryPolicy, sleeps: Sleeps, warnings: list[str]
) -> None:
    send = Script(*[httpx.ConnectError] * 4)
    with pytest.raises(ServiceError) as caught:
        send_with_retries(send, policy, "get thing", warn=warnings.append,
                          unreachable=unreachable)
    assert caught.value.message == "thing failed: ConnectError after 4 attempt(s)"
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert sleeps == [1.0, 2.0, 4.0]
    assert warnings[0] == "get thing: ConnectError; retrying in 1.0s (attempt 1 of 4)"


def test_waits_after_errors_and_statuses_add_up(policy: RetryPolicy) -> None:
    send = Script(429, httpx.ReadTimeout, 503, 503)
    outcome = send_with_retries(send, policy, "get thing")
    assert (outcome.attempts, outcome.waited, outcome.exhausted) == (4, 7.0, True)


def test_an_error_after_sending_is_not_repeated_when_that_is_unsafe(
    policy: RetryPolicy, sleeps: Sleeps
) -> None:
    send = Script(httpx.ReadTimeout, 201)
    with pytest.raises(ServiceError, match="ReadTimeout after 1 attempt"):
        send_with_retries(send, policy, "create thing", repeat_sent=False,
                          unreachable=unreachable)
    assert send.calls == 1 and sleeps == []


def test_a_refused_connection_is_repeated_even_when_a_repeat_is_unsafe(
    policy: RetryPolicy, sleeps: Sleeps
) -> None:
    send = Script(httpx.ConnectError, 201)  # it never reached the service
    outcome = send_with_retries(send, policy, "create thing", repeat_sent=False,
                                unreachable=unreachable)
    assert outcome.response.status_code == 201
    assert sleeps == [1.0]


def test_without_wording_or_a_catch_the_error_itself_goes_up(policy: RetryPolicy) -> None:
    with pytest.raises(httpx.ConnectError):
        send_with_retries(Script(*[httpx.ConnectError] * 4), policy, "get thing")
    send = Script(httpx.ConnectError, 200)
    with pytest.raises(httpx.ConnectError):
        send_with_retries(send, policy, "sign in", errors=())
    assert send.calls == 1


def test_recover_resends_at_once_and_the_try_counts(policy: RetryPolicy, sleeps: Sleeps,
                                                    warnings: list[str]) -> None:
    refreshed: list[int] = []

    def sign_in_again(response: httpx.Response) -> bool:
        if response.status_code != 401 or refreshed:
            return False
        refreshed.append(1)
        return True

    outcome = send_with_retries(Script(401, 200), policy, "get thing", warn=warnings.append,
                                recover=sign_in_again)
    assert outcome.response.status_code == 200
    assert outcome.attempts == 2
    assert sleeps == [] and warnings == []
    # A second 401 is not recovered again: it comes back to the caller.
    refreshed.clear()
    outcome = send_with_retries(Script(401, 401, 200), policy, "get thing",
                                recover=sign_in_again)
    assert (outcome.response.status_code, outcome.attempts) == (401, 2)


def test_stop_ends_the_retrying(policy: RetryPolicy, sleeps: Sleeps) -> None:
    outcome = send_with_retries(Script(503, 201), policy, "put block", stop=lambda: True)
    assert (outcome.response.status_code, outcome.attempts, outcome.exhausted) == (503, 1, True)
    with pytest.raises(ServiceError, match="after 1 attempt"):
        send_with_retries(Script(httpx.WriteError, 201), policy, "put block",
                          stop=lambda: True, unreachable=unreachable)
    assert sleeps == []


def test_statuses_and_detail_are_the_callers(policy: RetryPolicy,
                                             warnings: list[str]) -> None:
    busy = httpx.Response(500, headers={"x-ms-request-id": "r-1"})
    outcome = send_with_retries(Script(busy, 200), policy, "sign-in", warn=warnings.append,
                                statuses=THROTTLED_OR_5XX,
                                detail=request_id_note("x-ms-request-id"))
    assert outcome.response.status_code == 200
    assert warnings == ["sign-in: HTTP 500 (request-id r-1); retrying in 1.0s (attempt 1 of 4)"]


def test_request_id_note_is_empty_without_the_header() -> None:
    note = request_id_note("request-id")
    assert note(httpx.Response(503)) == ""
    assert note(httpx.Response(503, headers={"request-id": ""})) == ""
    assert note(httpx.Response(503, headers={"request-id": "abc"})) == " (request-id abc)"
