"""How any failure is shown: one line, and the exit code that says whose fault it is."""

from __future__ import annotations

from intune_step.errors import EXIT_BUG, IntuneStepError


def failure_line(exc: BaseException) -> str:
    """``ClassName: message (fix)`` for an expected failure; a bug says it is one."""
    if isinstance(exc, IntuneStepError):
        return f"{type(exc).__name__}: {exc.one_line()}"
    return (f"unexpected {type(exc).__name__}: {str(exc)[:300]} (this is a bug in intune-step; "
            "re-run with INTUNE_STEP_DEBUG=1 for a traceback and report it)")


def exit_code(exc: BaseException) -> int:
    return exc.exit_code if isinstance(exc, IntuneStepError) else EXIT_BUG
