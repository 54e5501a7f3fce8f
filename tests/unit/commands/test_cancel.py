"""Cancellation: every signal a CI cancels with ends the run through Cancelled, once.

Linux and macOS have SIGINT and SIGTERM (real signals are raised here); Windows adds SIGBREAK
(Ctrl+Break), simulated with a stand-in signal module that has Windows' numbers.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from intune_step.commands.cancel import Cancelled, cancel_signals, cancellation
from intune_step.commands.failures import exit_code, failure_line


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_cancel_signal_raises_cancelled_with_exit_130(name: str) -> None:
    with pytest.raises(Cancelled) as caught, cancellation():
        signal.raise_signal(getattr(signal, name))
    assert exit_code(caught.value) == 130
    assert failure_line(caught.value) == f"Cancelled: the job was cancelled ({name})"


def test_sigint_is_not_a_keyboard_interrupt_inside_and_is_one_after() -> None:
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(Cancelled), cancellation():
        signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before  # restored
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_the_runners_second_signal_does_not_cut_cleanup_short() -> None:
    """GitHub sends SIGINT, then SIGTERM 7.5 s later: the cleanup started by the first must
    run to its end."""
    cleaned = []
    with pytest.raises(Cancelled, match="SIGINT"), cancellation():
        try:
            signal.raise_signal(signal.SIGINT)
        finally:
            signal.raise_signal(signal.SIGTERM)  # lands while cleaning up
            cleaned.append("app removed")
    assert cleaned == ["app removed"]


class FakeSignalModule(SimpleNamespace):
    """A signal module with a platform's numbers; records the handlers set."""

    def __init__(self, **numbers: int) -> None:
        super().__init__(**numbers)
        self.handlers: dict[int, Any] = {}

    def signal(self, signum: int, handler: Callable[[int, Any], None]) -> Any:
        old = self.handlers.get(signum, "default")
        self.handlers[signum] = handler
        return old


WINDOWS = {"SIGINT": 2, "SIGTERM": 15, "SIGBREAK": 21}  # CPython's signal module on Windows
MACOS = {"SIGINT": 2, "SIGTERM": 15}


def test_windows_ctrl_break_cancels_like_ctrl_c() -> None:
    fake = FakeSignalModule(**WINDOWS)
    assert cancel_signals(fake) == [2, 15, 21]
    with cancellation(fake):
        assert set(fake.handlers) == {2, 15, 21}
        with pytest.raises(Cancelled, match=r"cancelled \(SIGBREAK\)"):
            fake.handlers[21](21, None)
        fake.handlers[2](2, None)  # Ctrl+C after Ctrl+Break: ignored while cleaning up
    assert fake.handlers == {2: "default", 15: "default", 21: "default"}


def test_macos_has_no_sigbreak_and_handles_sigint_and_sigterm() -> None:
    fake = FakeSignalModule(**MACOS)
    with cancellation(fake):
        assert set(fake.handlers) == {2, 15}
        with pytest.raises(Cancelled, match=r"cancelled \(SIGINT\)"):
            fake.handlers[2](2, None)


def test_outside_the_main_thread_no_handler_is_set() -> None:
    fake = FakeSignalModule(**WINDOWS)
    seen: list[dict[int, Any]] = []

    def worker() -> None:
        with cancellation(fake):
            seen.append(dict(fake.handlers))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [{}]
