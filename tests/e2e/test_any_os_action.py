"""The any-OS composite action, run as the runner runs it: it installs the hash-locked set into
a private environment and publishes with the container action's outputs.

The three CI host tests (tests/e2e/test_ci_hosts.py) run it as host `github-any-os` too:
outputs, masking, one error for a failed commit, escaping of a hostile file name.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from intune_step.emulator import Emulator
from intune_step.samples.ipa import build_ipa

from .hosts import REPO, run_any_os, run_any_os_steps, run_github, runner_temp, settings

SAME_FOR_THE_SAME_FILE = (
    "app-id",
    "content-version-id",
    "app-type",
    "version",
    "app-url",
    "file-sha256",
)


@pytest.mark.e2e
def test_the_composite_and_the_container_action_give_the_same_outputs(
    emulator: Emulator, tmp_path: Path
) -> None:
    build_ipa(tmp_path / "app.ipa", bundle_id="com.example.both", version="2.0", build="7")
    container = run_github(emulator, tmp_path, settings(emulator, "app.ipa"))
    composite = run_any_os(emulator, tmp_path, settings(emulator, "app.ipa"))
    assert container.returncode == 0 and composite.returncode == 0, composite.printed
    assert container.outputs["operation"] == "created"
    assert composite.outputs["operation"] == "unchanged"  # the same file, already there
    for name in SAME_FOR_THE_SAME_FILE:
        assert composite.outputs[name] == container.outputs[name], name
    assert len(emulator.apps()) == 1


@pytest.mark.e2e
def test_a_dry_run_plans_alike_in_both_actions(emulator: Emulator, tmp_path: Path) -> None:
    build_ipa(tmp_path / "app.ipa", bundle_id="com.example.plan")
    inputs = {**settings(emulator, "app.ipa"), "dry-run": "true"}
    container = run_github(emulator, tmp_path, inputs)
    composite = run_any_os(emulator, tmp_path, inputs)
    assert container.returncode == composite.returncode
    # A workflow reads an output set to '' and one never set alike.
    assert composite.outputs == {name: value for name, value in container.outputs.items() if value}
    assert json.loads(composite.outputs["plan"])["operation"] == "create"
    assert emulator.write_requests() == []


@pytest.mark.e2e
def test_the_install_step_runs_the_locked_set_from_a_private_environment(
    emulator: Emulator, tmp_path: Path
) -> None:
    build_ipa(tmp_path / "app.ipa", bundle_id="com.example.venv")
    run = run_any_os_steps(emulator, tmp_path, settings(emulator, "app.ipa"))
    assert run.returncode == 0, run.stdout + run.stderr
    install, publish = run.steps
    assert publish.returncode == 0 and publish.outputs["operation"] == "created"
    python = Path(install.outputs["python"])
    assert python.is_relative_to(runner_temp()) and python.is_file()
    code = "import intune_step; print(intune_step.__file__)"
    where = subprocess.run(
        [str(python), "-I", "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert "site-packages" in where and not where.startswith(str(REPO / "intune_step"))
    frozen = subprocess.run(
        [
            str(python),
            "-I",
            "-m",
            "pip",
            "freeze",
            "--all",
            "--exclude",
            "pip",
            "--exclude",
            "setuptools",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
        for line in frozen.splitlines()
        if "==" in line
    }
    assert installed == _locked_pins()
    [package] = [line for line in frozen.splitlines() if "==" not in line]
    assert package.startswith("intune-step @ file://")  # this checkout, the action's ref


def _locked_pins() -> dict[str, str]:
    text = (REPO / "any-os" / "requirements-hashed.txt").read_text(encoding="utf-8")
    return {
        name.lower(): version
        for name, version in re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", text, re.M)
    }


@pytest.mark.e2e
@pytest.mark.emulator_config(blob_latency_s=0.2)
def test_cancelling_the_step_as_the_runner_does_cleans_up(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The runner signals the step's process alone (SIGINT, then SIGTERM): the publish step
    must be Python itself, not a shell waiting for it, to clean up and exit 130."""
    build_ipa(tmp_path / "app.ipa", bundle_id="com.example.cancel", padding_bytes=900_000)

    def cancel_mid_upload(step: str, proc: subprocess.Popen[str]) -> None:
        if step != "publish":
            return
        deadline = time.monotonic() + 120
        while not any(r.service == "blob" and r.status == 201 for r in emulator.request_log):
            assert time.monotonic() < deadline and proc.poll() is None, "no upload started"
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGTERM)  # the runner's second signal, during cleanup

    run = run_any_os_steps(
        emulator,
        tmp_path,
        settings(emulator, "app.ipa"),
        env_overrides={"INTUNE_BLOCKS_IN_FLIGHT": "1"},
        started=cancel_mid_upload,
    )
    publish = run.steps[-1]
    assert publish.id == "publish", run.stdout + run.stderr
    assert run.returncode == 130, (run.returncode, publish.stdout + publish.stderr)
    assert "the job was cancelled (SIGINT)" in publish.stdout + publish.stderr
    assert "Traceback" not in publish.stderr
    assert emulator.apps() == []
