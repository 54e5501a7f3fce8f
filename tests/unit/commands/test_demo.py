"""The demo's closing lines name the CLI the way this user can run it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from intune_step.commands.demo import next_steps, program


def test_an_absolute_path_inside_the_checkout_is_shown_relative(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", [str(tmp_path / ".venv" / "bin" / "intune-step"), "demo"])
    assert program() == ".venv/bin/intune-step"


@pytest.mark.parametrize(
    ("argv0", "shown"),
    [
        (".venv/bin/intune-step", ".venv/bin/intune-step"),  # scripts/demo runs this one
        ("/usr/local/bin/intune-step", "/usr/local/bin/intune-step"),
        ("/src/intune_step/__main__.py", "intune-step"),  # python -m intune_step
    ],
)
def test_the_next_steps_name_the_cli_as_it_was_run(
    argv0: str, shown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", [argv0, "demo"])
    assert program() == shown
    lines = next_steps(program()).splitlines()
    assert lines[0] == "Next:"
    assert lines[1].strip().startswith(f"{shown} inspect YOUR.ipa")
    meanings = {re.match(r"^  .*?\s{2,}(?=\S)", line).end() for line in lines[1:]}
    assert len(meanings) == 1  # the meanings start in one column
