"""The command line as a user meets it: flags are flags, numbers are numbers, one option means
the same on every command, several files publish together, and `inspect` prints no blobs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from intune_step.commands import cli
from intune_step.commands.cli import BOOLEAN_INPUTS, NUMERIC_INPUTS, main
from intune_step.config.action import action_definition
from intune_step.samples.apk import icon_png
from intune_step.samples.ipa import build_ipa


def option(command: str, name: str) -> click.Option:
    found = [
        p
        for p in main.commands[command].params
        if isinstance(p, click.Option) and f"--{name}" in p.opts
    ]
    assert len(found) == 1, (command, name)
    return found[0]


@pytest.mark.parametrize("name", BOOLEAN_INPUTS)
def test_boolean_inputs_are_flags_described_as_flags(name: str) -> None:
    flag = option("publish", name)
    assert flag.is_flag
    help_text = flag.help or ""
    assert not help_text.lower().startswith("true"), help_text
    assert "Default false" not in help_text
    assert help_text[0].isupper()


def test_every_boolean_input_of_action_yml_is_a_flag() -> None:
    for name, spec in action_definition()["inputs"].items():
        described_as_boolean = str(spec.get("description", "")).startswith("true ")
        assert described_as_boolean == (name in BOOLEAN_INPUTS), name


def test_send_certificate_chain_is_the_same_option_on_every_command() -> None:
    commands = [
        name
        for name, command in main.commands.items()
        if any("--send-certificate-chain" in getattr(p, "opts", ()) for p in command.params)
    ]
    assert sorted(commands) == ["check", "promote", "publish", "rollback", "status"]
    shapes = {
        (o.is_flag, tuple(o.opts), str(o.envvar), o.help)
        for o in (option(c, "send-certificate-chain") for c in commands)
    }
    assert len(shapes) == 1, shapes


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("max-parallel", "11"),
        ("max-parallel", "two"),
        ("lock-timeout", "-1"),
        ("lock-timeout", "soon"),
    ],
)
def test_numeric_options_are_typed(name: str, bad: str, tmp_path: Path) -> None:
    assert isinstance(option("publish", name).type, click.IntRange)
    result = CliRunner().invoke(main, ["publish", str(tmp_path / "a.ipa"), f"--{name}", bad])
    assert result.exit_code == 2
    assert f"--{name}" in result.output


def capture_publish(monkeypatch: pytest.MonkeyPatch) -> list[Mapping[str, str | None]]:
    calls: list[Mapping[str, str | None]] = []

    def fake(raw: Mapping[str, str | None], host: object, *args: object, **kw: object) -> int:
        calls.append(dict(raw))
        return 0

    monkeypatch.setattr("intune_step.commands.run.run_publish", fake)
    return calls


def test_publish_takes_several_files(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = capture_publish(monkeypatch)
    result = CliRunner().invoke(
        main, ["publish", "a.ipa", "b.apk", "--max-parallel", "2", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert calls[0]["file"] == "a.ipa\nb.apk"  # the file input's one-per-line form
    assert calls[0]["max-parallel"] == "2" and calls[0]["dry-run"] == "true"
    assert calls[0]["allow-downgrade"] is None  # a flag not given is not "false"


def test_publish_of_one_file_is_a_single_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = capture_publish(monkeypatch)
    assert CliRunner().invoke(main, ["publish", "a.ipa"]).exit_code == 0
    assert calls[0]["file"] == "a.ipa"


def test_publish_needs_a_file() -> None:
    result = CliRunner().invoke(main, ["publish"])
    assert result.exit_code == 2 and "FILE" in result.output


def test_the_local_emulator_has_one_name_in_the_cli_and_the_docs() -> None:
    assert "emulator" in main.commands and "sandbox" not in main.commands
    repo = Path(cli.__file__).resolve().parents[2]
    for doc in [
        repo / "README.md",
        *sorted((repo / "docs").glob("*.md")),
        repo / "intune_step" / "emulator" / "README.md",
    ]:
        text = doc.read_text()
        assert "intune-step sandbox" not in text, doc
        assert "python -m intune_step.emulator" not in text, doc


def test_inspect_text_has_no_base64_blobs(tmp_path: Path) -> None:
    ipa = build_ipa(tmp_path / "App.ipa", icon=icon_png(60))
    text = CliRunner().invoke(main, ["inspect", str(ipa)]).output
    assert not re.search(r"[A-Za-z0-9+/]{64,}", text), text
    assert re.search(r"^manifest: \(\d+ bytes of base64; --json shows them\)$", text, re.M)
    record = json.loads(CliRunner().invoke(main, ["inspect", str(ipa), "--json"]).output)
    assert len(record["manifest"]) > 64  # the JSON keeps the whole record


def test_flag_help_rewrites_the_action_wording() -> None:
    assert cli.flag_help("true to send the chain (x5c). Default false.") == "Send the chain (x5c)."
    assert cli.flag_help("Something else.") == "Something else."


def test_numeric_inputs_exist_in_action_yml() -> None:
    assert set(NUMERIC_INPUTS) <= set(action_definition()["inputs"])
