"""The GitHub adapter against the runner's own rules (actions/runner ActionCommand.cs,
FileCommandManager.cs, Handler.cs), as summarised in docs/protocol.md, "CI hosts"."""

from __future__ import annotations

import _pyio
import io
import os
import re
from pathlib import Path

import pytest

from intune_step.ci import github
from intune_step.ci.github import GitHubHost, escape_data, escape_property, input_env_name

from ...runner_files import parse_github_output


def runner_unescape_data(value: str) -> str:
    """The runner's inverse mapping for command data (ActionCommand.cs)."""
    return value.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def test_escaping_matches_the_runner_table() -> None:
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    for text in ("50%", "a\nb", "x%0Ay", "::error::", "ü%\r\n%25"):
        assert runner_unescape_data(escape_data(text)) == text


def test_input_names_keep_hyphens() -> None:
    assert input_env_name("client-id") == "INPUT_CLIENT-ID"
    assert input_env_name("my input") == "INPUT_MY_INPUT"


def test_inputs_treat_empty_as_missing_and_accept_underscored_fallback() -> None:
    host = GitHubHost({"INPUT_CLIENT-ID": " abc ", "INPUT_FILE": "", "INPUT_APP_ID": "z"})
    assert host.read_inputs(["client-id", "file", "app-id", "publisher"]) == {
        "client-id": "abc", "file": None, "app-id": "z", "publisher": None}


def test_outputs_use_heredoc_with_random_delimiter(tmp_path) -> None:
    out = tmp_path / "output"
    host = GitHubHost({"GITHUB_OUTPUT": str(out)})
    host.set_outputs({"app-id": "a1", "note": "line1\nline2"})
    host.set_outputs({"app-id": "a2"})
    assert parse_github_output(out) == {"app-id": "a2", "note": "line1\nline2"}
    delimiters = re.findall(r"<<(\S+)", out.read_text())
    assert len(set(delimiters)) == 3


@pytest.fixture
def windows_text_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text files as Windows writes them: CPython's own pure-Python io with os.linesep CRLF
    (the C io builds Windows' translation in at compile time)."""
    monkeypatch.setattr(os, "linesep", "\r\n")
    monkeypatch.setattr(github, "open", _pyio.open, raising=False)


def test_outputs_read_back_exactly_on_a_windows_runner(tmp_path: Path,
                                                        windows_text_files: None) -> None:
    """No CR may reach the runner's Windows reader: it would end every value."""
    out, summary = tmp_path / "output", tmp_path / "summary.md"
    host = GitHubHost({"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)})
    values = {"app-id": "a1", "results": '[{"file": "b\\app.ipa"}]', "note": "one\ntwo"}
    host.set_outputs(values)
    host.summary("# Published\n\n| a | b |")
    assert b"\r" not in out.read_bytes() and b"\r" not in summary.read_bytes()
    assert parse_github_output(out, windows=True) == values
    assert parse_github_output(out, windows=False) == values


def test_the_windows_reader_splits_crlf_as_the_runner_does(tmp_path: Path) -> None:
    """The port of the runner's reader is itself checked: CRLF ends a line only on Windows."""
    out = tmp_path / "output"
    out.write_bytes(b"a<<EOF\r\nx\r\nEOF\r\nb=y\r\n")
    assert parse_github_output(out, windows=True) == {"a": "x", "b": "y"}
    assert parse_github_output(out, windows=False) == {"a": "x\r", "b": "y\r"}
    out.write_bytes(b"a<<EOF\nx\nEOF \n")
    with pytest.raises(ValueError, match="Matching delimiter not found"):
        parse_github_output(out, windows=True)


def test_mask_comes_first_and_lines_are_scrubbed() -> None:
    stream = io.StringIO()
    host = GitHubHost({"GITHUB_ACTIONS": "true"}, stream=stream)
    host.mask("topsecret")
    host.info("token topsecret leaked?")
    host.error("failed with topsecret\nsecond line")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "::add-mask::topsecret"
    assert "topsecret" not in "\n".join(lines[1:])
    assert lines[2] == "::error title=intune-step::failed with ***%0Asecond line"


def test_data_that_looks_like_a_command_is_defused() -> None:
    """The runner trims leading whitespace, so only ::stop-commands:: really defuses data."""
    stream = io.StringIO()
    GitHubHost({}, stream=stream).info("app name\n  ::set-env name=X::y")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("::stop-commands::")
    token = lines[0].removeprefix("::stop-commands::")
    assert len(token) == 32
    assert lines[1:] == ["app name", "  ::set-env name=X::y", f"::{token}::"]


def test_off_a_runner_no_add_mask_line_shows_the_secret() -> None:
    stream = io.StringIO()
    host = GitHubHost({}, stream=stream)
    host.mask("topsecret")
    host.info("token topsecret")
    assert "topsecret" not in stream.getvalue() and "add-mask" not in stream.getvalue()


def test_the_legacy_form_anywhere_in_a_line_is_defused() -> None:
    """actions/runner ActionCommand.TryParse finds ``##[`` anywhere in a line
    (``message.IndexOf(Prefix)``, Prefix = "##["), and TryProcessCommand tries it whenever
    TryParseV2 fails (src/Runner.Common/ActionCommand.cs, src/Runner.Worker/
    ActionCommandManager.cs at actions/runner 258d6c85)."""
    from ...ci_runners import github_process

    stream = io.StringIO()
    GitHubHost({}, stream=stream).info("Display name ##[warning]raised from metadata")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("::stop-commands::")
    assert lines[1] == "Display name ##[warning]raised from metadata"
    assert github_process(stream.getvalue()) == []
    # Unprotected, the same line is an annotation to the runner (the test can fail):
    assert [c.name for c in github_process(lines[1])] == ["warning"]


def test_an_output_file_the_image_user_cannot_write_is_one_clear_error(tmp_path,
                                                                      monkeypatch) -> None:
    """A self-hosted runner whose user is not the image's uid 1001: the runner's 0644 files
    refuse the write (simulated: the tests may run as root, who may write anything)."""
    import builtins

    import pytest

    from intune_step.errors import SettingsError

    real_open = builtins.open

    def refusing_open(file, mode="r", *args, **kwargs):
        if "a" in mode:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)
    stream = io.StringIO()
    host = GitHubHost({"GITHUB_OUTPUT": str(tmp_path / "output"),
                       "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}, stream=stream)
    with pytest.raises(SettingsError) as caught:
        host.set_outputs({"app-id": "a1"})
    assert "permission denied" in str(caught.value) and "uid 1001" in caught.value.one_line()
    host.summary("# done")
    assert "cannot write the job summary" in stream.getvalue()
