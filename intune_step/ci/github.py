"""GitHub Actions: INPUT_* variables, $GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY, workflow commands.

The runner reads a command from a line in two forms (actions/runner ``ActionCommand``):
``TryParseV2``, a line that starts with ``::`` after its leading whitespace is trimmed, and the
legacy ``TryParse``, ``##[`` *anywhere* in the line. Plain text that holds either is printed
between ``::stop-commands::<token>`` and ``::<token>::``, inside which the runner processes no
command of either form (``ActionCommandManager.TryProcessCommand``). ``::add-mask::`` is written
only where a runner reads it (GITHUB_ACTIONS=true): elsewhere it would print the secret.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from intune_step.ci.base import LineHost
from intune_step.errors import SettingsError


def _uid() -> str:
    return str(os.getuid()) if hasattr(os, "getuid") else "?"


def escape_data(value: str) -> str:
    """Workflow-command message escaping, exactly as the runner unescapes it."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


# The image runs as uid 1001, the user of GitHub-hosted runners (docs/supply-chain.md).
NOT_THE_RUNNER_USER = (
    "the action's image runs as uid 1001, the user of GitHub-hosted runners; on a self-hosted "
    "runner with another user, install intune-step with pip and run `intune-step publish` in a "
    "step instead of the container action (docs/supply-chain.md)")
LEGACY_PREFIX = "##["  # ActionCommand.Prefix: found anywhere in a line


def reads_as_command(text: str) -> bool:
    """True when the runner could take a line of ``text`` for a workflow command."""
    return any(line.lstrip().startswith("::") or LEGACY_PREFIX in line
               for line in text.splitlines())


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
        try:
            with open(path, "a", encoding="utf-8", newline="") as handle:
                for key, value in outputs.items():
                    delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
                    handle.write(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")
        except OSError as exc:
            denied = isinstance(exc, PermissionError)
            raise SettingsError(
                f"cannot write the step's outputs to {path}: "
                f"{(exc.strerror or type(exc).__name__).lower()} (this process runs as uid "
                f"{_uid()})",
                fix=NOT_THE_RUNNER_USER if denied else "check GITHUB_OUTPUT") from None

    def summary(self, markdown: str) -> None:
        path = self._env.get("GITHUB_STEP_SUMMARY")
        if path:
            try:
                with open(path, "a", encoding="utf-8", newline="") as handle:
                    handle.write(self.scrub(markdown) + "\n")
            except OSError as exc:
                self.warning(f"cannot write the job summary to {path}: "
                             f"{(exc.strerror or type(exc).__name__).lower()}; "
                             + NOT_THE_RUNNER_USER)

    def info(self, message: str) -> None:
        text = self.scrub(message)
        if reads_as_command(text):
            # Data that reads as a workflow command is printed with command processing
            # stopped around it, in one write so no command of ours lands inside.
            token = secrets.token_hex(16)
            self._emit(f"::stop-commands::{token}\n{text}\n::{token}::")
            return
        self._emit(text)

    def warning(self, message: str) -> None:
        self._emit("::warning::" + escape_data(self.scrub(message)))

    def error(self, message: str) -> None:
        self._emit("::error title=intune-step::" + escape_data(self.scrub(message)))

    def _register_mask(self, secret: str) -> None:
        # Registered before anything could print it; the runner consumes this line. Off a
        # runner nobody does, and the line would show the secret (scrub() still works).
        if self._env.get("GITHUB_ACTIONS", "").strip().lower() != "true":
            return
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
