"""The README's GitLab recipe, run as written by gitlab-ci-local against the emulator.

gitlab-ci-local (npm, pinned in scripts/setup) implements GitLab CI's job semantics: stages,
rules, `needs`, dotenv reports passed to later jobs. Its shell executor needs no Docker, so
the job's `image:` is not pulled; the step comes from this checkout instead. It sets
GITLAB_CI=false and a container-style CI_PROJECT_DIR on purpose, and mints no `id_tokens`;
the test sets what GitLab itself would (GITLAB_CI=true, CI_PROJECT_DIR = the directory the
job runs in, the ID token) plus the project's CI/CD variables, and nothing in the step is
bent to gitlab-ci-local.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from intune_step.emulator import Emulator
from intune_step.samples.ipa import build_ipa
from tests.certs import fake_jwt, github_claims

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "docs" / "examples" / "gitlab-ci.yml"  # the README shows it verbatim
SUBJECT = "project_path:contoso/field-service:ref_type:branch:ref:main"


def gitlab_ci_local() -> str:
    candidates = [REPO / "node_modules" / ".bin" / "gitlab-ci-local"]
    found = next((str(c) for c in candidates if c.exists()), shutil.which("gitlab-ci-local"))
    missing = [tool for tool in ("git", "rsync") if shutil.which(tool) is None]
    if found is None or missing:
        what = "gitlab-ci-local" if found is None else ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(f"{what} is not installed; scripts/setup --test and .ci/run install it")
        pytest.skip(f"{what} not installed (scripts/setup --test)")
    return found


def project(tmp_path: Path) -> Path:
    """A repository holding the recipe as .gitlab-ci.yml and the artifact a build job made."""
    root = tmp_path / "field-service"
    root.mkdir()
    shutil.copy(RECIPE, root / ".gitlab-ci.yml")
    build_ipa(root / "build" / "MyApp.ipa", version="2.4.1", build="241")
    git = ["git", "-C", str(root), "-c", "user.name=ci", "-c", "user.email=ci@example.com"]
    subprocess.run([*git, "init", "--quiet", "--initial-branch=main"], check=True)
    subprocess.run([*git, "add", "--all"], check=True)
    subprocess.run([*git, "commit", "--quiet", "--message", "app"], check=True)
    return root


@pytest.mark.e2e
@pytest.mark.emulator_config(federated_subjects=(SUBJECT,))
def test_the_gitlab_recipe_publishes_and_a_later_job_reads_the_outputs(
    emulator: Emulator, tmp_path: Path
) -> None:
    tool = gitlab_ci_local()
    root = project(tmp_path)
    bin_dir = tmp_path / "bin"  # the job's `python` is this interpreter, with this checkout
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    token = fake_jwt({**github_claims(SUBJECT), "iss": "https://gitlab.com"})
    variables = {
        # What GitLab sets for the job (gitlab-ci-local sets other values, or none):
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(root),  # the shell executor runs the job in the project itself
        "AZURE_FEDERATED_TOKEN": token,  # the recipe's id_tokens
        # The project's CI/CD variables the recipe asks for:
        "INTUNE_CLIENT_ID": emulator.client_id,
        "INTUNE_AUTH_URL": emulator.auth_url,
        # The emulator, not Microsoft's cloud (a real job needs neither):
        "INTUNE_GRAPH_URL": emulator.graph_url,
        "SSL_CERT_FILE": str(emulator.ca_path),
    }
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("INTUNE_", "GITLAB_", "CI_", "GITHUB_", "TF_", "AC_"))
    }
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONPATH": str(REPO),
            "HOME": str(tmp_path),
        }
    )
    command = [
        tool,
        "--force-shell-executor",
        "--no-color",
        "--ignore-predefined-vars",
        "GITLAB_CI,CI_PROJECT_DIR",
    ]
    for name, value in variables.items():
        command += ["--variable", f"{name}={value}"]
    proc = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log

    [app] = emulator.apps()
    assert app["publishingState"] == "published" and app["bundleId"] == "com.example.demo"
    assert "intune-step" in log and "on GitLab CI (GITLAB_CI=true)" in log
    assert "federated token in $AZURE_FEDERATED_TOKEN" in log
    assert f"Published {app['id']} (created, 2.4.1 (241))" in log  # the announce job
    dotenv = (root / "intune.env").read_text()
    assert f"INTUNE_OUTPUT_APP_ID={app['id']}" in dotenv
    assert token not in log and token not in dotenv
