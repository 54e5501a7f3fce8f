"""A person at a terminal: readable lines, a progress bar on a TTY, outputs on stdout."""

from __future__ import annotations

import sys
from typing import TextIO

import click

from intune_step.ci.base import CIHost, progress_text


class LocalHost(CIHost):
    name = "local"

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        super().__init__()
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self._tty = self._err.isatty()
        self.progress_every = 0.2 if self._tty else 5.0
        self._bar_open = False

    def read_inputs(self, names: list[str]) -> dict[str, str | None]:
        return dict.fromkeys(names)  # the CLI passes its options directly

    def set_outputs(self, outputs: dict[str, str]) -> None:
        for key, value in outputs.items():
            click.echo(f"{key}={self.scrub(value)}", file=self._out)

    def _line(self, text: str, **style: object) -> None:
        if self._bar_open:
            click.echo("", file=self._err)
            self._bar_open = False
        click.echo(click.style(self.scrub(text), **style) if self._tty else self.scrub(text),
                   file=self._err)

    def info(self, message: str) -> None:
        self._line(message)

    def warning(self, message: str) -> None:
        self._line(f"Warning: {message}", fg="yellow")

    def error(self, message: str) -> None:
        self._line(f"Error: {message}", fg="red", bold=True)

    def render_progress(self, label: str, done: int, total: int, elapsed: float) -> None:
        if not self._tty:
            self.info(progress_text(label, done, total, elapsed))
            return
        width = 30
        filled = int(width * done / total) if total else width
        bar = "█" * filled + "░" * (width - filled)
        self._err.write(f"\r{bar} {progress_text(label, done, total, elapsed)}\x1b[K")
        self._err.flush()
        self._bar_open = done < total
        if not self._bar_open:
            self._err.write("\n")
