"""scripts/setup and scripts/demo as a newcomer meets them: a first run says what it is doing,
the demo installs no test tools, and `--test` adds them (run against stand-in tools)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

FAKE_PYTHON = """#!/usr/bin/env bash
# Stands in for python3: `-m venv DIR` makes DIR/bin/python this script; the rest is logged.
if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; exit 0; fi
echo "python $*" >> "$LOG"
"""
FAKE_NPM = """#!/usr/bin/env bash
echo "npm $*" >> "$LOG"
"""


def sandbox(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    for script in ("setup", "plain-pins"):
        shutil.copy(REPO / "scripts" / script, root / "scripts" / script)
    for name in ("requirements.lock", "pyproject.toml"):
        shutil.copy(REPO / name, root / name)
    tools = tmp_path / "tools"
    tools.mkdir()
    for name, text in (("python3", FAKE_PYTHON), ("npm", FAKE_NPM)):
        (tools / name).write_text(text)
        (tools / name).chmod(0o755)
    env = {
        "PATH": f"{tools}:/usr/bin:/bin",
        "LOG": str(tmp_path / "log"),
        "PYTHON": str(tools / "python3"),
        "HOME": str(tmp_path),
    }
    return root, env


def setup(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(root / "scripts" / "setup"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def log(env: dict[str, str]) -> str:
    path = Path(env["LOG"])
    text = path.read_text() if path.exists() else ""
    path.unlink(missing_ok=True)
    return text


def test_a_first_run_says_what_it_does_and_installs_no_test_tools(tmp_path: Path) -> None:
    root, env = sandbox(tmp_path)
    first = setup(root, env)
    assert first.returncode == 0, first.stderr
    assert "first run: creating .venv" in first.stderr
    assert "installing intune-step and its pinned dependencies into .venv" in first.stderr
    installed = log(env)
    assert "-e ." in installed and "[test]" not in installed and "npm" not in installed
    again = setup(root, env)
    assert again.returncode == 0 and again.stderr == "" and log(env) == ""


def test_setup_test_adds_the_python_and_npm_test_tools(tmp_path: Path) -> None:
    root, env = sandbox(tmp_path)
    result = setup(root, env, "--test")
    assert result.returncode == 0, result.stderr
    assert "the test tools" in result.stderr
    installed = log(env)
    assert "-e .[test]" in installed
    assert "npm install --no-save" in installed and "gitlab-ci-local@4.64.1" in installed
    assert "azurite@3" in installed  # in the same command: npm drops unnamed --no-save ones


def test_setup_refuses_an_unknown_argument(tmp_path: Path) -> None:
    root, env = sandbox(tmp_path)
    assert setup(root, env, "--tests").returncode == 2


def test_the_demo_sets_up_without_test_tools_and_the_test_command_with_them() -> None:
    demo = (REPO / "scripts" / "demo").read_text()
    assert "scripts/setup\n" in demo and "--test" not in demo
    assert "scripts/setup --test\n" in (REPO / "scripts" / "test").read_text()
    for script in ("demo", "test", "setup"):
        assert os.access(REPO / "scripts" / script, os.X_OK), script
