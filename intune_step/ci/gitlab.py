"""GitLab CI: INTUNE_* variables in, a dotenv report out, collapsible sections, ANSI colour.

Dotenv values reach later jobs as CI/CD variables, and the runner expands ``$NAME`` inside a
variable's value; ``$$`` is its escape for a literal ``$``. Every ``$`` is written doubled, so
a later job's ``$INTUNE_OUTPUT_PLAN`` holds exactly the value (a job that reads the file
itself turns ``$$`` back into ``$``). Values are one line, as GitLab requires (docs/ci-hosts.md).

GitLab has no run-time masking command (only project/group variables marked "masked"), so this
host never prints a secret: every line is scrubbed, and secrets never reach the dotenv file,
which is a downloadable artifact.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from intune_step.ci.base import LineHost
from intune_step.ci.env_file import append_env_file, env_pairs
from intune_step.ci.env_inputs import intune_candidates, read_env_inputs
from intune_step.config.paths import in_workspace

OUTPUT_PREFIX = "INTUNE_OUTPUT_"  # not INTUNE_<NAME>: a later job would read it as an input
DEFAULT_DOTENV = "intune.env"
DOTENV_LIMIT = 5 * 1024  # GitLab refuses larger dotenv reports
RED, YELLOW, BOLD_CYAN, RESET = "\x1b[31;1m", "\x1b[33;1m", "\x1b[36;1m", "\x1b[0m"
CLEAR = "\x1b[0K"


def section_name(title: str, number: int) -> str:
    """A unique section name; GitLab allows letters, digits, '_', '.' and '-' only."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", title).strip("_").lower()[:40]
    return f"intune_step_{number}_{slug}" if slug else f"intune_step_{number}"


def section_start(name: str, header: str, *, collapsed: bool = False,
                  now: int | None = None) -> str:
    """The line GitLab's log viewer folds on (docs: ci/jobs/job_logs, custom sections)."""
    stamp = int(time.time()) if now is None else now
    option = "[collapsed=true]" if collapsed else ""
    return f"{CLEAR}section_start:{stamp}:{name}{option}\r{CLEAR}{header}"


def section_end(name: str, *, now: int | None = None) -> str:
    stamp = int(time.time()) if now is None else now
    return f"{CLEAR}section_end:{stamp}:{name}\r{CLEAR}"


def dotenv_value(value: str) -> str:
    """A single-line value as written to the report: ``$`` doubled against expansion."""
    return value.replace("$", "$$")


def defuse(text: str) -> str:
    """Data must not move the cursor or open a section: drop CR, show ESC as text."""
    return text.replace("\r", "").replace("\x1b", "^[")


class GitLabHost(LineHost):
    name = "gitlab"
    title = "GitLab CI"

    def __init__(self, environ: Mapping[str, str], stream: TextIO | None = None) -> None:
        super().__init__(environ, stream)
        self._sections = itertools.count(1)  # section names must be unique within a job


    def workspace(self) -> Path:
        return Path(self._env.get("CI_PROJECT_DIR") or super().workspace())

    def dotenv_path(self) -> Path:
        """`artifacts: reports: dotenv:` must name this file; INTUNE_STEP_DOTENV moves it."""
        configured = self._env.get("INTUNE_STEP_DOTENV", "").strip()
        path = Path(configured or DEFAULT_DOTENV)
        return in_workspace(path, self.workspace())

    def read_inputs(self, names: list[str]) -> dict[str, str | None]:
        values, self.input_sources = read_env_inputs(self._env, names, intune_candidates)
        return values

    def set_outputs(self, outputs: dict[str, str]) -> None:
        pairs = env_pairs(outputs, OUTPUT_PREFIX, self.scrub, self.warning)
        written = {key: dotenv_value(value) for key, value in pairs.items()}
        path = self.dotenv_path()
        size = path.stat().st_size if path.exists() else 0
        size += sum(len(f"{k}={v}\n".encode()) for k, v in written.items())
        if size >= DOTENV_LIMIT:
            self.warning(f"{path.name} is over GitLab's 5 KB dotenv limit; later jobs may not "
                         "get these variables")
        append_env_file(path, written)
        with self.group(f"Outputs (dotenv report {path.name})", collapsed=True):
            for key, value in pairs.items():
                self.info(f"{key}={value}")

    def summary(self, markdown: str) -> None:
        # No job-summary feature in GitLab: keep the Markdown in a folded log section.
        with self.group("Summary", collapsed=True):
            for line in markdown.rstrip("\n").splitlines():
                self.info(line)

    def info(self, message: str) -> None:
        for line in defuse(self.scrub(message)).split("\n"):
            self._emit(line)

    def warning(self, message: str) -> None:
        self._colored(YELLOW, "WARNING: ", message)

    def error(self, message: str) -> None:
        # GitLab has no annotation command; the runner's own failures look like this.
        self._colored(RED, "ERROR: ", message)

    def _colored(self, color: str, prefix: str, message: str) -> None:
        lines = defuse(self.scrub(message)).split("\n")
        self._emit(f"{color}{prefix}{lines[0]}{RESET}")
        for line in lines[1:]:
            self._emit(f"{color}  {line}{RESET}")

    @contextmanager
    def group(self, title: str, *, collapsed: bool = False) -> Iterator[None]:
        shown = defuse(self.scrub(title))  # the section name shows in the raw log too
        name = section_name(shown, next(self._sections))
        header = f"{BOLD_CYAN}{shown}{RESET}"
        self._emit(section_start(name, header, collapsed=collapsed))
        try:
            yield
        finally:
            self._emit(section_end(name))
