"""One exception root for every expected failure, each carrying the fix.

The top-level handler prints ``ClassName: message`` plus the fix on one line, never a
traceback, and exits with the class's exit code. Anything that is not an IntuneStepError is
a bug and exits with EXIT_BUG.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BUG = 1
EXIT_BAD_INPUT = 2
EXIT_SERVICE = 3
EXIT_GATE_FAILED = 4  # the install gate saw more failed installs than allowed
EXIT_GATE_TIMEOUT = 5  # the install gate's time limit came first
# A run to several targets (a named-settings entry with `targets:`) that reached them.
EXIT_SOME_TARGETS = 6  # some targets succeeded, some failed
EXIT_NO_TARGET = 7  # every target failed


class IntuneStepError(Exception):
    """Root of every failure the step expects and explains."""

    exit_code = EXIT_BUG

    def __init__(self, message: str, *, fix: str | None = None, request_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.request_id = request_id

    def one_line(self) -> str:
        """The message, the request id and the fix, on a single line."""
        parts = [self.message.replace("\n", " ").strip()]
        if self.request_id:
            parts.append(f"(request-id {self.request_id})")
        if self.fix:
            parts.append(f"Fix: {self.fix}")
        return " ".join(parts)


class BadInputError(IntuneStepError):
    """The user's inputs, settings or artifact are wrong; nothing was written."""

    exit_code = EXIT_BAD_INPUT


class ArtifactError(BadInputError):
    """The artifact cannot be read or is not something Intune accepts."""


class SettingsError(BadInputError):
    """A setting is missing or malformed."""


class AuthError(BadInputError):
    """Entra refused the credentials (wrong secret, unknown tenant, no consent...)."""


class ServiceError(IntuneStepError):
    """Intune, Graph or Azure Storage failed in a way retries could not fix."""

    exit_code = EXIT_SERVICE


class GraphError(ServiceError):
    """A Graph request failed; carries the HTTP status and Graph's error code."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        fix: str | None = None,
        request_id: str | None = None,
    ):
        super().__init__(message, fix=fix, request_id=request_id)
        self.status = status
        self.code = code


class PermissionDeniedError(GraphError):
    """Graph answered 403: the app registration lacks a permission or consent."""

    exit_code = EXIT_BAD_INPUT


class UploadError(ServiceError):
    """The upload or commit of the content file failed."""


class StuckStateError(ServiceError):
    """A bounded wait ran out while Intune stayed in one state."""


class GateError(IntuneStepError):
    """The install gate ended without its bar met; ``status`` holds the counts it saw
    (a publish.gate.GateStatus: typed loosely here, the ground layer imports nothing)."""

    def __init__(self, message: str, *, status: object, fix: str | None = None) -> None:
        super().__init__(message, fix=fix)
        self.status = status


class GateFailedError(GateError):
    """More devices reported a failed install of this version than the gate allows."""

    exit_code = EXIT_GATE_FAILED


class GateTimeoutError(GateError):
    """The gate's time limit passed before enough devices installed this version."""

    exit_code = EXIT_GATE_TIMEOUT
