"""The step in its host's mode whatever started it, and two steps in one Azure DevOps job.

- Azure DevOps hands a step's output variables to later steps of the job as
  ``<STEP>_<VARIABLE>``: two intune-step steps in one job must each publish their own app.
- ``intune-step publish`` started inside GitLab CI or Azure DevOps writes that host's outputs
  (dotenv report, ##vso output variables, setsecret), and metadata that reads as a logging
  command is never one.
- ``--ci azure`` off an agent prints no ``task.setsecret`` line (nothing would consume it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from intune_step.emulator import Emulator
from intune_step.samples.ipa import build_ipa

from ..ci_runners import azure_parse, azure_step_environment, commands, gitlab_dotenv, gitlab_expand
from .hosts import _run, clean_env, run_azure, settings

HOSTILE_NAME = "Pay$Day ##vso[task.setvariable variable=pwned]yes ##[error]x"
PUBLISH = [sys.executable, "-m", "intune_step", "publish"]


@pytest.mark.e2e
def test_two_intune_step_steps_in_one_azure_job_publish_two_apps(
    emulator: Emulator, tmp_path: Path
) -> None:
    build_ipa(tmp_path / "One.ipa", bundle_id="com.example.one")
    build_ipa(tmp_path / "Two.ipa", bundle_id="com.example.two")
    first = run_azure(emulator, tmp_path, settings(emulator, "One.ipa"))
    assert first.returncode == 0, first.printed
    job = azure_step_environment("intune", first.commands)  # the README's `name: intune`
    assert job["INTUNE_OUTPUT_APP_ID"] == first.outputs["app-id"]
    second = run_azure(emulator, tmp_path, settings(emulator, "Two.ipa"), job_env=job)
    assert second.returncode == 0, second.printed
    apps = {app["bundleId"]: app["id"] for app in emulator.apps()}
    assert apps == {
        "com.example.one": first.outputs["app-id"],
        "com.example.two": second.outputs["app-id"],
    }
    assert second.outputs["operation"] == "created"


@pytest.mark.e2e
def test_publish_inside_gitlab_writes_the_dotenv_report(emulator: Emulator, tmp_path: Path) -> None:
    build_ipa(
        tmp_path / "app.ipa", bundle_id="com.example.gl", display_name=HOSTILE_NAME, version="2.0"
    )
    env = clean_env(emulator)
    env.update({"GITLAB_CI": "true", "CI": "true", "CI_PROJECT_DIR": str(tmp_path)})
    inputs = settings(emulator, "app.ipa")
    argv = [
        *PUBLISH,
        "app.ipa",
        "--client-id",
        inputs["client-id"],
        "--auth-url",
        inputs["auth-url"],
        "--graph-url",
        inputs["graph-url"],
    ]
    env["INTUNE_CLIENT_SECRET"] = inputs["client-secret"]
    proc = _run(argv, env, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = gitlab_dotenv((tmp_path / "intune.env").read_bytes())
    later = {key: gitlab_expand(value, {}) for key, value in report.items()}
    assert later["INTUNE_OUTPUT_APP_ID"] == emulator.apps()[0]["id"]
    assert emulator.client_secret not in proc.stdout + proc.stderr


@pytest.mark.e2e
def test_publish_inside_azure_uses_output_variables_and_defuses_metadata(
    emulator: Emulator, tmp_path: Path
) -> None:
    build_ipa(tmp_path / "app.ipa", bundle_id="com.example.ado", display_name=HOSTILE_NAME)
    inputs = settings(emulator, "app.ipa")
    argv = [
        *PUBLISH,
        "app.ipa",
        "--client-id",
        inputs["client-id"],
        "--auth-url",
        inputs["auth-url"],
        "--graph-url",
        inputs["graph-url"],
    ]
    run = run_azure(emulator, tmp_path, {"client-secret": inputs["client-secret"]}, argv=argv)
    assert run.returncode == 0, run.printed
    assert HOSTILE_NAME.split(" ##")[0] in run.printed  # the name was shown...
    assert run.outputs["app-id"] == emulator.apps()[0]["id"]
    assert run.registered_masks[0] == emulator.client_secret
    names = {(c.name, c.properties.get("variable")) for c in run.commands}
    assert ("task.setvariable", "pwned") not in names  # ...and never obeyed
    assert not any(c.name == "task.logissue" for c in run.commands)


@pytest.mark.e2e
def test_ci_azure_off_an_agent_never_prints_a_secret(emulator: Emulator, tmp_path: Path) -> None:
    build_ipa(tmp_path / "app.ipa", bundle_id="com.example.terminal")
    env = clean_env(emulator)  # no TF_BUILD: a terminal
    inputs = settings(emulator, "app.ipa")
    env.update({"INTUNE_CLIENT_SECRET": inputs["client-secret"]})
    argv = [
        *PUBLISH,
        "app.ipa",
        "--ci",
        "azure",
        "--client-id",
        inputs["client-id"],
        "--auth-url",
        inputs["auth-url"],
        "--graph-url",
        inputs["graph-url"],
    ]
    proc = _run(argv, env, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    printed = proc.stdout + proc.stderr
    assert "setsecret" not in printed
    for secret in [emulator.client_secret, *emulator.issued_tokens]:
        assert secret not in printed
    found = commands(printed, azure_parse)
    assert any(c.name == "task.setvariable" for c in found)  # still the Azure format
