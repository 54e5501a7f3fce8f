"""Escaping per host, checked against ports of the runners' own parsers (tests/ci_runners.py)
and the strings each runner documents: a value with %, a newline, ':', ';', ']' and ','."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from intune_step.ci import azure, github
from intune_step.ci.appcircle import AppcircleHost
from intune_step.ci.azure import AzureDevOpsHost, logging_command
from intune_step.ci.gitlab import GitLabHost

from ...ci_runners import (
    appcircle_env,
    azure_parse,
    commands,
    github_parse,
    github_process,
    gitlab_dotenv,
    gitlab_expand,
)

HOSTILE = [
    "100% done",
    "line one\nline two",
    "crlf\r\nend",
    "key: value",
    "a;b;c",
    "x]y",
    "a,b",
    "%AZP25 literal",
    "%3B%5D%0A%0D%25 already-escaped-looking",
    "]]>;%\n:,\r\n%%",
    "##vso[task.setvariable variable=x]y",
    "::error::not a command",
    "name ##[error]legacy form mid-line",
    "##[set-output name=app-id;]evil",
    "  ::add-mask::leading spaces",
    "$HOME ${CI_JOB_TOKEN} $$ $1 price: 5$ {\"a\": \"$b\"}",
    "##VSO[task.setsecret]upper case",
]


def test_azure_escaping_is_the_agent_table() -> None:
    """ADO logging-commands doc / agent CommandStringConvertor: % -> %AZP25, CR -> %0D,
    LF -> %0A, and in properties ; -> %3B, ] -> %5D."""
    assert azure.escape_data("%") == "%AZP25"
    assert azure.escape_data("\r\n") == "%0D%0A"
    assert azure.escape_property("%;\r\n]") == "%AZP25%3B%0D%0A%5D"
    assert azure.escape_data("50%3B") == "50%AZP253B"  # a literal %3B stays literal


@pytest.mark.parametrize("value", HOSTILE)
def test_azure_commands_round_trip_through_the_agent_parser(value: str) -> None:
    line = logging_command("task.logissue", value, type="error", sourcepath=value)
    assert "\n" not in line and "\r" not in line
    parsed = azure_parse(line)
    assert parsed is not None and parsed.name == "task.logissue"
    assert parsed.data == value
    assert parsed.properties == {"type": "error", "sourcepath": value}


@pytest.mark.parametrize("value", HOSTILE)
def test_azure_output_variables_keep_the_value(value: str) -> None:
    out = io.StringIO()
    AzureDevOpsHost({}, stream=out).set_outputs({"app-id": value})
    setvars = [c for c in commands(out.getvalue(), azure_parse)
               if c.name == "task.setvariable"]
    assert len(setvars) == 1
    assert setvars[0].properties == {"variable": "output_app_id", "isoutput": "true"}
    assert setvars[0].data == value


@pytest.mark.parametrize("value", HOSTILE)
def test_azure_plain_lines_are_never_commands(value: str) -> None:
    out = io.StringIO()
    AzureDevOpsHost({}, stream=out).info(value)
    assert commands(out.getvalue(), azure_parse) == []


@pytest.mark.parametrize("value", HOSTILE)
def test_github_commands_round_trip_through_the_runner_parser(value: str) -> None:
    """actions/runner ActionCommand: data escapes % CR LF; properties also : and ,."""
    line = f"::error file={github.escape_property(value)},line=1::{github.escape_data(value)}"
    assert "\n" not in line and "\r" not in line
    parsed = github_parse(line)
    assert parsed is not None and parsed.name == "error"
    assert parsed.data == value
    assert parsed.properties == {"file": value, "line": "1"}


@pytest.mark.parametrize("value", HOSTILE)
def test_github_plain_lines_raise_no_command_of_either_form(value: str) -> None:
    """Through the runner's own processing (V2, then the legacy ``##[`` form found anywhere,
    with stop-commands): plain text makes the runner act on nothing."""
    out = io.StringIO()
    github.GitHubHost({}, stream=out).info(f"App: {value}")
    assert github_process(out.getvalue()) == []


@pytest.mark.parametrize("value", HOSTILE)
def test_github_annotations_and_groups_carry_hostile_text_as_data(value: str) -> None:
    out = io.StringIO()
    host = github.GitHubHost({}, stream=out)
    host.warning(value)
    host.error(value)
    with host.group(value):
        host.info(value)
    acted = [(c.name, c.data) for c in github_process(out.getvalue())]
    assert acted == [("warning", value), ("error", value), ("group", value),
                     ("endgroup", "")]


@pytest.mark.parametrize("value", HOSTILE)
def test_github_output_file_keeps_the_value(value: str, tmp_path: Path) -> None:
    """$GITHUB_OUTPUT read back as the runner's FileCommandManager reads it (heredoc form)."""
    from ...runner_files import parse_github_output

    out = tmp_path / "output"
    stream = io.StringIO()
    github.GitHubHost({"GITHUB_OUTPUT": str(out)}, stream=stream).set_outputs({"plan": value})
    assert parse_github_output(out) == {"plan": value}
    assert github_process(stream.getvalue()) == []


def test_github_property_table() -> None:
    assert github.escape_property("%\r\n:,") == "%25%0D%0A%3A%2C"


@pytest.mark.parametrize("value", HOSTILE)
def test_gitlab_dotenv_values_reach_a_later_job_unchanged(value: str, tmp_path: Path) -> None:
    """Parsed as GitLab parses the report, then expanded as the runner expands a variable's
    value for the later job: ``$`` survives (written as ``$$``)."""
    host = GitLabHost({"CI_PROJECT_DIR": str(tmp_path)}, stream=io.StringIO())
    host.set_outputs({"app-id": value, "version": "1.0"})
    parsed = gitlab_dotenv((tmp_path / "intune.env").read_bytes())
    later_job = {key: gitlab_expand(raw, {"HOME": "/root", "CI_JOB_TOKEN": "t0ken", "b": "B"})
                 for key, raw in parsed.items()}
    expected = " ".join(value.splitlines()).strip()  # line breaks cannot be in a dotenv value
    assert later_job == {"INTUNE_OUTPUT_APP_ID": expected, "INTUNE_OUTPUT_VERSION": "1.0"}


def test_gitlab_json_outputs_survive_expansion(tmp_path: Path) -> None:
    import json

    plan = json.dumps({"app": {"displayName": "Pay$Day ${X}"}, "version": "1$2"})
    host = GitLabHost({"CI_PROJECT_DIR": str(tmp_path)}, stream=io.StringIO())
    host.set_outputs({"plan": plan})
    raw = gitlab_dotenv((tmp_path / "intune.env").read_bytes())["INTUNE_OUTPUT_PLAN"]
    assert json.loads(gitlab_expand(raw, {"X": "injected"})) == json.loads(plan)


@pytest.mark.parametrize("value", HOSTILE)
def test_appcircle_env_file_keeps_single_line_values_literally(value: str,
                                                               tmp_path: Path) -> None:
    env_file = tmp_path / "ac.env"
    host = AppcircleHost({"AC_ENV_FILE_PATH": str(env_file)}, stream=io.StringIO())
    host.set_outputs({"app-id": value})
    expected = " ".join(value.splitlines()).strip()
    assert appcircle_env(env_file.read_bytes()) == {"AC_INTUNE_OUTPUT_APP_ID": expected}


def test_a_value_with_line_breaks_is_folded_with_a_warning(tmp_path: Path) -> None:
    out = io.StringIO()
    GitLabHost({"CI_PROJECT_DIR": str(tmp_path)}, stream=out).set_outputs({"version": "1\n2"})
    assert "WARNING: output version had line breaks" in out.getvalue()
    assert (tmp_path / "intune.env").read_text() == "INTUNE_OUTPUT_VERSION=1 2\n"
