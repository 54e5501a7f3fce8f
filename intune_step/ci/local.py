"""A person at a terminal: readable lines, a progress bar on a TTY, outputs on stdout.

Also the fallback for a CI we do not know: no TTY means plain lines, no colour, no bar. Run
with ``--ci local`` inside a CI, what it prints must still not read as that CI's commands:
``##vso[`` (Azure DevOps, anywhere in a line) and ``##[`` (GitHub's legacy form, anywhere in a
line) are shown as ``**vso[`` and ``**[``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

import click

from intune_step.ci.base import CIHost, progress_text
from intune_step.ci.env_inputs import intune_candidates, read_env_inputs

COMMAND_MARKERS = re.compile(r"##(vso)?\[", re.IGNORECASE)


def neutralise(text: str) -> str:
    return COMMAND_MARKERS.sub(lambda match: "**" + match.group(0)[2:], text)


class LocalHost(CIHost):
    name = "local"
    title = "a terminal"

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._env = os.environ if environ is None else environ
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self._tty = self._err.isatty()
        # https://no-color.org: any non-empty NO_COLOR turns colour off.
        self._colour = self._tty and not self._env.get("NO_COLOR")
        self.progress_every = 0.2 if self._tty else 5.0
        self._bar_open = False

    def read_inputs(self, names: list[str]) -> dict[str, str | None]:
        # The CLI passes its options directly; the CI entry run locally reads INTUNE_*.
        values, self.input_sources = read_env_inputs(self._env, names, intune_candidates)
        return values

    def set_outputs(self, outputs: dict[str, str]) -> None:
        for key, value in outputs.items():
            click.echo(neutralise(f"{key}={self.scrub(value)}"), file=self._out)

    def _line(self, text: str, *, fg: str | None = None, bold: bool | None = None) -> None:
        if self._bar_open:
            click.echo("", file=self._err)
            self._bar_open = False
        text = neutralise(self.scrub(text))
        styled = fg is not None or bold is not None
        click.echo(click.style(text, fg=fg, bold=bold) if self._colour and styled else text,
                   file=self._err, color=self._colour)

    def info(self, message: str) -> None:
        self._line(message)

    def warning(self, message: str) -> None:
        self._line(f"Warning: {message}", fg="yellow")

    def error(self, message: str) -> None:
        self._line(f"Error: {message}", fg="red", bold=True)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self._line(title, bold=True)
        yield

    def render_progress(self, label: str, done: int, total: int, elapsed: float) -> None:
        if not self._tty:
            self.info(progress_text(label, done, total, elapsed))
            return
        width = 30
        filled = int(width * done / total) if total else width
        bar = "█" * filled + "░" * (width - filled)
        if self._colour:
            bar = click.style(bar, fg="cyan")
        self._err.write(f"\r{bar} {progress_text(label, done, total, elapsed)}\x1b[K")
        self._err.flush()
        self._bar_open = done < total
        if not self._bar_open:
            self._err.write("\n")
