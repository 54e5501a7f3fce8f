"""How the library reports what it does, without printing.

Everything below the CLI and CI adapters talks to a Reporter. The CI adapter renders the
events as that host expects (GitHub workflow commands, a progress bar on a terminal...).
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol


class Reporter(Protocol):
    def info(self, message: str) -> None:
        """A line for the log."""

    def warning(self, message: str) -> None:
        """Something the user should look at; the run goes on."""

    def mask(self, secret: str) -> None:
        """Register a secret with the host before anything could print it."""

    def progress(self, label: str, done: int, total: int) -> None:
        """Bytes done out of total for a long operation (called often; render sparingly)."""


class RecordingReporter:
    """Keeps every event; used by tests and by the dry-run plan."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.warnings: list[str] = []
        self.masked: list[str] = []
        self.progress_events: list[tuple[str, int, int]] = []

    def info(self, message: str) -> None:
        self.lines.append(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def mask(self, secret: str) -> None:
        self.masked.append(secret)

    def progress(self, label: str, done: int, total: int) -> None:
        self.progress_events.append((label, done, total))


class LoggingReporter:
    """The library's default: lines go to the ``intune_step`` logger, scrubbed of secrets."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger("intune_step")
        self._secrets: list[str] = []

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def info(self, message: str) -> None:
        self._log.info(self._scrub(message))

    def warning(self, message: str) -> None:
        self._log.warning(self._scrub(message))

    def mask(self, secret: str) -> None:
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def progress(self, label: str, done: int, total: int) -> None:
        self._log.debug("%s: %d of %d bytes", label, done, total)


class PrefixedReporter:
    """One of several parallel jobs' reporter: its lines carry ``[prefix]``, and go to the
    host one at a time (``lock`` is shared by the jobs)."""

    def __init__(self, host: Reporter, lock: threading.Lock, prefix: str) -> None:
        self._host, self._lock, self._prefix = host, lock, prefix

    def info(self, message: str) -> None:
        with self._lock:
            self._host.info(f"[{self._prefix}] {message}")

    def warning(self, message: str) -> None:
        with self._lock:
            self._host.warning(f"[{self._prefix}] {message}")

    def mask(self, secret: str) -> None:
        with self._lock:
            self._host.mask(secret)

    def progress(self, label: str, done: int, total: int) -> None:
        with self._lock:
            self._host.progress(f"{self._prefix}: {label}", done, total)
