"""The CI packaging files stay true to action.yml and to each other (no tool needed)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

from intune_step import __version__
from intune_step.ci.appcircle import ALIASES, OUTPUT_PREFIX, appcircle_input_name
from intune_step.ci.azure import output_variable
from intune_step.ci.env_file import env_key
from intune_step.ci.env_inputs import intune_env_name
from intune_step.config.action import action_definition, input_names, output_names
from intune_step.config.tuning import KNOBS

REPO = Path(__file__).resolve().parents[2]
STEP = REPO / "appcircle"


def component() -> dict:
    return yaml.safe_load((STEP / "component.yaml").read_text())


def test_the_appcircle_step_declares_every_action_input_and_output() -> None:
    spec = component()
    keys = [item["key"] for item in spec["inputs"]]
    assert keys[: len(input_names())] == [appcircle_input_name(n) for n in input_names()]
    assert set(keys) - {appcircle_input_name(n) for n in input_names()} == {
        "AC_INTUNE_STEP_PACKAGE"}
    assert [o["key"] for o in spec["outputs"]] == [env_key(OUTPUT_PREFIX, n)
                                                   for n in output_names()]
    required = {item["key"] for item in spec["inputs"] if item["isRequired"]}
    action_inputs = action_definition()["inputs"]
    assert required == {appcircle_input_name(n) for n, s in action_inputs.items()
                        if s.get("required")}


def test_the_appcircle_step_follows_the_component_rules() -> None:
    """Appcircle's 'How to create an integration': quoted string defaults, select options that
    contain the default, bash main file run from %AC_STEP_TEMP%, every file listed."""
    spec = component()
    for item in spec["inputs"]:
        assert isinstance(item["defaultValue"], str), item["key"]
        assert item["title"] and item["description"]
        if item.get("editorType") == "select":
            assert item["defaultValue"] in item["options"].split(","), item["key"]
    for item in spec["outputs"]:
        assert item["defaultValue"] == item["key"]
    assert spec["processFilename"] == "bash"
    assert spec["processArguments"] == "%AC_STEP_TEMP%/main.sh"
    for name in spec["files"]:
        assert (STEP / name).is_file(), name
    assert spec["platform"] in ("Common", "Android", "iOS")


def test_main_sh_is_valid_bash_executable_and_pins_this_release() -> None:
    script = STEP / "main.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert os.access(script, os.X_OK)
    match = re.search(r'^STEP_VERSION="([^"]+)"', script.read_text(), re.M)
    assert match is not None and match.group(1) == __version__


def test_the_step_installs_the_same_pinned_set_as_the_image() -> None:
    assert (STEP / "requirements.lock").read_text() == (REPO / "requirements.lock").read_text()


def test_the_changelog_has_this_release() -> None:
    assert f"## [{__version__}]" in (REPO / "CHANGELOG.md").read_text()


def test_the_self_test_workflow_uses_the_action_from_this_checkout() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "self-test.yml").read_text())
    uses = [step.get("uses") for job in workflow["jobs"].values() for step in job["steps"]]
    assert "./" in uses
    with_inputs = [step.get("with", {}) for job in workflow["jobs"].values()
                   for step in job["steps"] if step.get("uses") == "./"]
    for given in with_inputs:
        assert set(given) <= set(input_names())


DOC_PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def docs_text() -> str:
    """Everything a user reads about the step: the README and the docs pages."""
    return "\n".join(page.read_text() for page in DOC_PAGES)


def test_every_example_file_is_shown_in_the_docs() -> None:
    """scripts/lint-packaging validates docs/examples/*; scripts/readme-tables copies each into
    the README or docs/ci-hosts.md (its --check runs in tests/unit/test_readme.py)."""
    examples = sorted(path.name for path in (REPO / "docs" / "examples").iterdir())
    assert len(examples) == 5
    shown = set(re.findall(r"<!-- example:([\w.-]+):start -->", docs_text()))
    assert shown == set(examples)
    readme = (REPO / "README.md").read_text()
    for host in ("github-workflow.yml", "gitlab-ci.yml", "azure-pipelines.yml",
                 "appcircle-custom-script.sh"):  # one recipe per host in the README itself
        assert f"<!-- example:{host}:start -->" in readme, host


def test_every_variable_the_docs_name_is_one_the_code_reads_or_writes() -> None:
    doc = docs_text()
    known = {"INTUNE_STEP_CI", "INTUNE_STEP_DOTENV", "AC_INTUNE_STEP_PACKAGE",
             "AC_INTUNE_STEP_PYTHON", "INTUNE_OUTPUT", "AC_INTUNE_OUTPUT"}  # + "prefix_*"
    known |= {intune_env_name(n) for n in input_names()}
    known |= {appcircle_input_name(n) for n in input_names()}
    known |= {env_key(prefix, n) for n in output_names()
              for prefix in ("INTUNE_OUTPUT_", OUTPUT_PREFIX)}
    known |= {alias for aliases in ALIASES.values() for alias in aliases}
    known |= {knob.variable for knob in KNOBS} | {"INTUNE_PARALLEL"}  # its old name
    # Names the examples let the user pick: GitHub variables/secrets and the variables a
    # settings file points at (the step reads them only through that file).
    known |= {"INTUNE_TENANT_ID", "INTUNE_PFX_PASSWORD", "INTUNE_PROD_SECRET",
              "INTUNE_GOV_CERT", "INTUNE_GOV_CERT_PASSWORD"}
    named = set(re.findall(r"\b(?:AC_CREDENTIAL_|AC_)?INTUNE_[A-Z0-9_]*[A-Z0-9]", doc))
    assert named and named <= known, named - known
    ado_outputs = set(re.findall(r"(?:\$\(|')intune\.([a-z_0-9]+)", doc))
    assert ado_outputs and ado_outputs <= {output_variable(n) for n in output_names()}
    assert "python -m intune_step.entry" in doc


def test_the_package_version_is_the_one_pyproject_releases() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["version"] == __version__
    release = (REPO / ".github" / "workflows" / "release.yml").read_text()
    assert "intune_step/version.py" in release  # where the release workflow reads it
