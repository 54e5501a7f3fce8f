"""Append KEY=VALUE lines to a file that the CI reads back as variables for later steps/jobs.

GitLab's dotenv report and Appcircle's $AC_ENV_FILE_PATH share the strict subset we write:
one ``KEY=VALUE`` per line, ASCII ``[A-Za-z0-9_]`` keys, no quotes, no comments, no blank
lines and no newline inside a value (GitLab rejects the whole report otherwise; Appcircle does
not document multi-line values).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def env_key(prefix: str, output_name: str) -> str:
    """`app-id` with prefix `INTUNE_OUTPUT_` -> `INTUNE_OUTPUT_APP_ID`."""
    key = prefix + re.sub(r"[^A-Za-z0-9]", "_", output_name).upper()
    if not KEY.match(key):
        raise ValueError(f"cannot make a variable name from {output_name!r}")
    return key


def single_line(value: str) -> tuple[str, bool]:
    """The value with CR/LF folded to spaces, and whether anything was folded."""
    folded = " ".join(value.splitlines()) if ("\n" in value or "\r" in value) else value
    return folded.strip(), folded != value


def env_pairs(outputs: dict[str, str], prefix: str, scrub: Callable[[str], str],
              warn: Callable[[str], None]) -> dict[str, str]:
    """Outputs as single-line KEY=value pairs, as env files and dotenv reports need them."""
    pairs: dict[str, str] = {}
    for name, value in outputs.items():
        text, folded = single_line(scrub(value))
        if folded:
            warn(f"output {name} had line breaks; written as one line")
        pairs[env_key(prefix, name)] = text
    return pairs


def append_env_file(path: Path, pairs: dict[str, str]) -> None:
    """Append the pairs; every value must already be single-line (see :func:`single_line`)."""
    lines = []
    for key, value in pairs.items():
        if not KEY.match(key) or "\n" in value or "\r" in value:
            raise ValueError(f"not a single-line KEY=VALUE pair: {key!r}")
        lines.append(f"{key}={value}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", newline="\n") as handle:
        # Never leave the previous line unterminated: that would merge two variables.
        if path.stat().st_size and not _ends_with_newline(path):
            handle.write("\n")
        handle.writelines(lines)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) == b"\n"
