"""A CI's cancellation becomes one exception, so the cleanup code of the run still runs.

GitHub's runner stops a step with SIGINT, then SIGTERM 7.5 s later, then SIGKILL 2.5 s after
that (actions/runner ProcessInvoker); on Windows it sends Ctrl+C, then Ctrl+Break, which
Python sees as SIGINT and SIGBREAK. GitLab, Azure DevOps and `docker stop` send SIGTERM.
Each of these is handled alike: the first raises :class:`Cancelled` (exit 130, one line, no
traceback); the ones that follow while cleanup runs are ignored, so the runner's second
signal cannot cut the removal of a half-published app short.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from intune_step.errors import IntuneStepError

# By name, as the signal module has them: SIGTERM exists on Windows too (only os.kill or
# raise_signal send it there), SIGBREAK only on Windows.
CANCEL_SIGNALS = ("SIGINT", "SIGTERM", "SIGBREAK")


class Cancelled(IntuneStepError):
    """The CI cancelled the job (a signal); cleanup has run."""

    exit_code = 130


def cancel_signals(module: Any = signal) -> list[signal.Signals]:
    """The cancellation signals this platform has (``module``: the signal module)."""
    return [getattr(module, name) for name in CANCEL_SIGNALS if hasattr(module, name)]


@contextmanager
def cancellation(module: Any = signal) -> Iterator[None]:
    """Within the block, a cancellation signal raises Cancelled once; handlers are restored
    after. Outside the main thread (signals only reach it) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = {int(getattr(module, name)): name for name in CANCEL_SIGNALS if hasattr(module, name)}
    received: list[str] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if received:
            return  # cleanup is under way: let it finish (SIGKILL remains the hard stop)
        received.append(names.get(signum, f"signal {signum}"))
        raise Cancelled(f"the job was cancelled ({received[0]})")

    previous = {sig: module.signal(sig, handler) for sig in cancel_signals(module)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            module.signal(sig, old)
