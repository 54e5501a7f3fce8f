"""GitHub Actions: INPUT_* variables, $GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY, workflow commands."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from intune_step.ci.base import LineHost


def escape_data(value: str) -> str:
    """Workflow-command message escaping, exactly as the runner unescapes it."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def input_env_name(name: str) -> str:
    """The runner's rule: spaces become '_', then upper-case; hyphens are kept."""
    return "INPUT_" + name.replace(" ", "_").upper()


class GitHubHost(LineHost):
    name = "github"
    title = "GitHub Actions"


    def workspace(self) -> Path:
        return Path(self._env.get("GITHUB_WORKSPACE") or os.getcwd())

    def read_inputs(self, names: list[str]) -> dict[str, str | None]:
        values: dict[str, str | None] = {}
        for name in names:
            key = input_env_name(name)
            raw = self._env.get(key)
            if raw is None:  # tolerate callers that could not set a hyphenated name
                key = key.replace("-", "_")
                raw = self._env.get(key)
            values[name] = raw.strip() if raw and raw.strip() else None
            if values[name] is not None:
                self.input_sources[name] = key
        return values

    def set_outputs(self, outputs: dict[str, str]) -> None:
        path = self._env.get("GITHUB_OUTPUT")
        if not path:
            for key, value in outputs.items():  # an old runner: show them at least
                self.info(f"{key}={value}")
            return
        # LF on every OS, untranslated (newline=""): the runner splits on LF everywhere (and
        # on CRLF on Windows), while text mode on Windows would write CR CR LF and leave a
        # stray CR at the end of every value.
        with open(path, "a", encoding="utf-8", newline="") as handle:
            for key, value in outputs.items():
                delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
                handle.write(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")

    def summary(self, markdown: str) -> None:
        path = self._env.get("GITHUB_STEP_SUMMARY")
        if path:
            with open(path, "a", encoding="utf-8", newline="") as handle:
                handle.write(self.scrub(markdown) + "\n")

    def info(self, message: str) -> None:
        text = self.scrub(message)
        if any(line.lstrip().startswith("::") for line in text.splitlines()):
            # Data that reads as a workflow command (the runner trims leading spaces) is
            # printed with command processing stopped around it.
            token = secrets.token_hex(16)
            self._emit(f"::stop-commands::{token}")
            self._emit(text)
            self._emit(f"::{token}::")
            return
        self._emit(text)

    def warning(self, message: str) -> None:
        self._emit("::warning::" + escape_data(self.scrub(message)))

    def error(self, message: str) -> None:
        self._emit("::error title=intune-step::" + escape_data(self.scrub(message)))

    def _register_mask(self, secret: str) -> None:
        # Registered before anything could print it; the runner consumes this line.
        for line in secret.splitlines():
            if line.strip():
                self._emit("::add-mask::" + escape_data(line))

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self._emit("::group::" + escape_data(self.scrub(title)))
        try:
            yield
        finally:
            self._emit("::endgroup::")
