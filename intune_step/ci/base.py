"""The interface every CI host adapter implements (and the Reporter it doubles as)."""

from __future__ import annotations

import abc
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


class CIHost(abc.ABC):
    """Read inputs, write outputs, mask, annotate, group, summarise, show progress."""

    name = "base"
    title = "CI"  # for people: "GitLab CI", "Azure DevOps", ...
    progress_every = 5.0  # seconds between progress lines when not drawing a bar

    def __init__(self) -> None:
        self._progress_lock = threading.Lock()
        self._last_progress: dict[str, float] = {}
        self._masked: list[str] = []
        self.detected_by = ""  # the marker that chose this host, e.g. "GITLAB_CI=true"
        self.input_sources: dict[str, str] = {}  # input name -> variable it was read from

    def workspace(self) -> Path:
        """Where a relative `file` input is resolved: the job's working directory."""
        return Path(os.getcwd())

    # inputs and outputs
    @abc.abstractmethod
    def read_inputs(self, names: list[str]) -> dict[str, str | None]: ...

    @abc.abstractmethod
    def set_outputs(self, outputs: dict[str, str]) -> None: ...

    def summary(self, markdown: str) -> None:  # noqa: B027 - hosts without summaries skip it
        pass

    # log lines
    @abc.abstractmethod
    def info(self, message: str) -> None: ...

    @abc.abstractmethod
    def warning(self, message: str) -> None: ...

    @abc.abstractmethod
    def error(self, message: str) -> None: ...

    def mask(self, secret: str) -> None:
        """Remember the secret so every line we print is scrubbed of it."""
        if secret and len(secret) >= 4 and secret not in self._masked:
            self._masked.append(secret)
            self._register_mask(secret)

    def _register_mask(self, secret: str) -> None:  # noqa: B027 - only some hosts can mask
        pass

    def scrub(self, text: str) -> str:
        for secret in self._masked:
            text = text.replace(secret, "***")
        return text

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self.info(title)
        yield

    # progress
    def progress(self, label: str, done: int, total: int) -> None:
        """Throttled: a line every ``progress_every`` seconds, plus the first and last."""
        now = time.monotonic()
        with self._progress_lock:
            last = self._last_progress.get(label)
            finished = done >= total
            if last is not None and not finished and now - last < self.progress_every:
                return
            if finished and self._last_progress.get(label + "#done"):
                return
            if last is None:
                self._last_progress[label + "#start"] = now
            self._last_progress[label] = now
            if finished:
                self._last_progress[label + "#done"] = 1.0
            started = self._last_progress[label + "#start"]
        self.render_progress(label, done, total, now - started)

    def render_progress(self, label: str, done: int, total: int, elapsed: float) -> None:
        self.info(progress_text(label, done, total, elapsed))


def progress_text(label: str, done: int, total: int, elapsed: float) -> str:
    percent = 100.0 * done / total if total else 100.0
    rate = done / elapsed if elapsed > 0 else 0.0
    left = (total - done) / rate if rate > 0 else 0.0
    mib = 1024 * 1024
    return (f"{label}: {done / mib:,.1f}/{total / mib:,.1f} MiB ({percent:.0f}%) "
            f"{rate / mib:.1f} MiB/s, {left:.0f}s left")


class LineHost(CIHost):
    """A CI host that reads its environment and speaks to its runner in lines on stdout."""

    def __init__(self, environ: Mapping[str, str], stream: TextIO | None = None) -> None:
        super().__init__()
        self._env = environ
        self._stream = stream or sys.stdout

    def _emit(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()
