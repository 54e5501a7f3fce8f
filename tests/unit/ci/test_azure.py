"""Azure DevOps adapter, read back through a port of the agent's command parser."""

from __future__ import annotations

import io
from pathlib import Path

from intune_step.ci.azure import AzureDevOpsHost

from ...ci_runners import azure_parse, commands

SECRET = "ado-secret-value-123"


def host(**env: str) -> tuple[AzureDevOpsHost, io.StringIO]:
    out = io.StringIO()
    return AzureDevOpsHost(env, stream=out), out


def test_inputs_come_from_intune_variables() -> None:
    ado, _ = host(INTUNE_CLIENT_SECRET=SECRET, INTUNE_AUTH_URL="  ")
    assert ado.read_inputs(["client-secret", "auth-url"]) == {"client-secret": SECRET,
                                                              "auth-url": None}
    assert ado.input_sources == {"client-secret": "INTUNE_CLIENT_SECRET"}


def test_outputs_are_output_variables() -> None:
    ado, out = host()
    ado.set_outputs({"app-id": "a1", "content-version-id": "1"})
    found = [(c.properties["variable"], c.properties["isoutput"], c.data)
             for c in commands(out.getvalue(), azure_parse) if c.name == "task.setvariable"]
    assert found == [("output_app_id", "true", "a1"), ("output_content_version_id", "true", "1")]


def test_output_variables_never_arrive_as_an_input_of_a_later_step() -> None:
    """A step named `intune` hands later steps STEP_VARIABLE: never an INTUNE_<input>."""
    from intune_step.config.action import input_names, output_names

    from ...ci_runners import azure_step_environment

    ado, out = host()
    ado.set_outputs({name: "x" for name in output_names()})
    later = azure_step_environment("intune", commands(out.getvalue(), azure_parse))
    assert len(later) == len(output_names())
    inputs = {"INTUNE_" + name.replace("-", "_").upper() for name in input_names()}
    assert set(later).isdisjoint(inputs)
    assert "INTUNE_OUTPUT_APP_ID" in later


def test_mask_is_setsecret_before_anything_else_and_lines_are_scrubbed() -> None:
    ado, out = host(TF_BUILD="True")
    ado.mask(SECRET)
    ado.info(f"using {SECRET}")
    ado.error(f"failed with {SECRET}")
    lines = out.getvalue().splitlines()
    first = azure_parse(lines[0])
    assert first is not None and first.name == "task.setsecret" and first.data == SECRET
    assert SECRET not in "\n".join(lines[1:])


def test_a_multi_line_secret_is_registered_line_by_line() -> None:
    ado, out = host(TF_BUILD="True")
    ado.mask("-----BEGIN KEY-----\nabcdef\n")
    assert [c.data for c in commands(out.getvalue(), azure_parse)] == [
        "-----BEGIN KEY-----", "abcdef"]


def test_off_an_agent_no_setsecret_line_shows_the_secret() -> None:
    """`--ci azure` at a terminal: nothing consumes ##vso lines there, so none names a secret."""
    for env in ({}, {"TF_BUILD": "False"}):
        ado, out = host(**env)
        ado.mask(SECRET)
        ado.info(f"using {SECRET}")
        assert SECRET not in out.getvalue()
        assert "setsecret" not in out.getvalue()


def test_errors_and_warnings_are_logissue_commands() -> None:
    ado, out = host()
    ado.error("GraphError: 403; see ]docs[ 100%")
    ado.warning("retrying\nin 2s")
    found = commands(out.getvalue(), azure_parse)
    assert [(c.name, c.properties, c.data) for c in found] == [
        ("task.logissue", {"type": "error"}, "GraphError: 403; see ]docs[ 100%"),
        ("task.logissue", {"type": "warning"}, "retrying\nin 2s"),
    ]


def test_groups_use_the_formatting_commands() -> None:
    ado, out = host()
    with ado.group("Upload"):
        ado.info("inside")
    assert out.getvalue().splitlines() == ["##[group]Upload", "inside", "##[endgroup]"]


def test_plain_text_cannot_issue_commands() -> None:
    ado, out = host()
    ado.info("x ##VSO[task.setvariable variable=a]b\n##[error]fake")
    assert commands(out.getvalue(), azure_parse) == []
    assert out.getvalue().splitlines() == ["x **vso[task.setvariable variable=a]b",
                                           " ##[error]fake"]


def test_the_summary_is_uploaded_from_the_agent_temp_directory(tmp_path: Path) -> None:
    ado, out = host(AGENT_TEMPDIRECTORY=str(tmp_path))
    ado.mask(SECRET)
    ado.summary(f"### Published to Intune\n\n| token | {SECRET} |\n")
    uploads = [c for c in commands(out.getvalue(), azure_parse)
               if c.name == "task.uploadsummary"]
    assert len(uploads) == 1
    path = Path(uploads[0].data)
    assert path.is_absolute() and path.parent == tmp_path
    text = path.read_text()
    assert text.startswith("### Published to Intune") and SECRET not in text


def test_progress_sets_the_task_percentage() -> None:
    ado, out = host()
    ado.progress("Uploading app.ipa", 50, 100)
    ado.progress("Uploading app.ipa", 100, 100)
    values = [c.properties["value"] for c in commands(out.getvalue(), azure_parse)
              if c.name == "task.setprogress"]
    assert values == ["50", "100"]
