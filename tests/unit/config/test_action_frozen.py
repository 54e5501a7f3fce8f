"""action.yml's JSON copy (config/action.py): used while it matches, never when stale; and a
run's start-up pays for neither YAML nor certificate code it does not use."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from intune_step.config import action

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    source = tmp_path / "action.yml"
    shutil.copy(REPO / "action.yml", source)
    monkeypatch.setattr(action, "action_yml_path", lambda: source)
    action.action_definition.cache_clear()
    yield source
    action.action_definition.cache_clear()


def test_the_frozen_copy_is_what_yaml_says(copy: Path) -> None:
    parsed = action.action_definition()
    target = action.freeze()
    assert target == copy.with_name("action.json")
    action.action_definition.cache_clear()
    assert action.action_definition() == parsed
    assert json.loads(target.read_text())["definition"] == parsed


def test_the_frozen_copy_is_used_while_it_matches_and_ignored_once_stale(copy: Path) -> None:
    target = action.freeze()
    body = json.loads(target.read_text())
    body["definition"]["inputs"]["only-in-the-copy"] = {"description": "x"}
    target.write_text(json.dumps(body))
    action.action_definition.cache_clear()
    assert "only-in-the-copy" in action.input_names()  # the copy, not the YAML
    copy.write_text(copy.read_text() + "\n# edited\n")
    action.action_definition.cache_clear()
    assert "only-in-the-copy" not in action.input_names()  # stale: the YAML again
    target.write_text("{not json")
    action.action_definition.cache_clear()
    assert "file" in action.input_names()


def test_a_secret_run_imports_neither_yaml_nor_certificate_code(tmp_path: Path) -> None:
    source = tmp_path / "action.yml"
    shutil.copy(REPO / "action.yml", source)
    probe = f"""
import sys
from pathlib import Path
from intune_step.config import action
action.action_yml_path = lambda: Path({str(source)!r})
action.freeze()
action.action_definition.cache_clear()
for name in [m for m in sys.modules if m == "yaml" or m.startswith("yaml.")]:
    del sys.modules[name]
import intune_step.commands.cli, intune_step.commands.run, intune_step.ci.github
print(sorted(m for m in sys.modules if m == "yaml" or m.startswith(
    ("intune_step.auth.certificates", "cryptography.x509", "intune_step.emulator"))))
"""
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout
    assert out.strip() == "[]"
