"""Run the real entry of each CI host as a process, with that host's environment, and decode
what it printed and wrote in that host's own format (tests/ci_runners.py).

- GitHub: `python entrypoint.py` (what action.yml runs), INPUT_* variables, $GITHUB_OUTPUT.
- GitHub, any-OS action: any-os/action.yml's steps as the runner runs a composite action
  (tests/composite_runner.py), its install step included.
- GitLab CI, Azure DevOps: the container command `python -m intune_step.entry`, INTUNE_*
  variables (masked/secret variables mapped into the job's environment).
- Appcircle: `bash appcircle/main.sh` with the step's AC_* inputs and Appcircle's Intune
  credential variables.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from intune_step.config.action import output_names
from intune_step.emulator import Emulator

from ..ci_runners import (
    Command,
    appcircle_env,
    azure_parse,
    commands,
    github_process,
    gitlab_dotenv,
)
from ..composite_runner import CompositeRun, run_composite
from ..runner_files import parse_github_output

REPO = Path(__file__).resolve().parents[2]
CI_VARIABLES = ("INPUT_", "INTUNE_", "GITHUB_", "RUNNER_", "GITLAB_", "CI_", "TF_BUILD",
                "SYSTEM_", "AGENT_", "BUILD_", "AC_")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
OUTPUT_NAMES = ("app-id", "content-version-id", "app-type", "operation", "version", "app-url",
                "file-sha256")


@dataclass
class HostRun:
    host: str
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]  # action.yml output name -> value, decoded from the host's format
    errors: list[str]  # error annotations as the host shows them (decoded)
    registered_masks: list[str]  # values handed to the host's masking command
    files: dict[str, bytes] = field(default_factory=dict)  # everything the step wrote
    commands: list[Command] = field(default_factory=list)  # what the runner acted on

    @property
    def printed(self) -> str:
        return self.stdout + self.stderr

    def shown(self) -> str:
        """The log a person sees: printed text less the lines the runner consumes to mask."""
        consumed = ("::add-mask::", "##vso[task.setsecret]")
        return "\n".join(line for line in self.printed.splitlines()
                         if not line.startswith(consumed))


def clean_env(emu: Emulator) -> dict[str, str]:
    """This process's environment without any CI's variables (the tests may run in a CI)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(CI_VARIABLES) and key != "CI"}
    env["SSL_CERT_FILE"] = str(emu.ca_path)
    env.pop("SSL_CERT_DIR", None)
    env["PYTHONPATH"] = str(REPO)
    return env


def settings(emu: Emulator, file: str) -> dict[str, str]:
    """Input name -> value for a run that publishes `file` into the emulator."""
    return {"file": file, "client-id": emu.client_id, "client-secret": emu.client_secret,
            "auth-url": emu.auth_url, "graph-url": emu.graph_url, "setting-name": "e2e"}


def _by_prefix(values: dict[str, str], prefix: str) -> dict[str, str]:
    names = {prefix + name.replace("-", "_").upper(): name for name in output_names()}
    return {names[key]: value for key, value in values.items() if key in names}


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def run_github(emu: Emulator, workspace: Path, inputs: dict[str, str]) -> HostRun:
    env = clean_env(emu)
    output, summary = workspace / "github_output", workspace / "step_summary.md"
    env.update({"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": str(workspace),
                "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)})
    env.update({"INPUT_" + name.upper(): value for name, value in inputs.items()})
    proc = _run([sys.executable, str(REPO / "entrypoint.py")], env, workspace)
    found = github_process(proc.stdout + proc.stderr)
    return HostRun(
        "github", proc.returncode, proc.stdout, proc.stderr,
        outputs=parse_github_output(output) if output.exists() else {},
        errors=[c.data for c in found if c.name == "error"],
        registered_masks=[c.data for c in found if c.name == "add-mask"],
        files={p.name: p.read_bytes() for p in (output, summary) if p.exists()},
    )


_RUNNER_TEMP: list[Path] = []


def runner_temp() -> Path:
    """One RUNNER_TEMP for the session: the action's install step builds its venv there once
    and later runs reuse it, as a second use of the action in one job does."""
    if not _RUNNER_TEMP:
        path = Path(tempfile.mkdtemp(prefix="intune-step-runner-temp-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _RUNNER_TEMP.append(path)
    return _RUNNER_TEMP[0]


def run_any_os_steps(emu: Emulator, workspace: Path, inputs: dict[str, str],
                     env_overrides: dict[str, str] | None = None,
                     started: Callable[[str, subprocess.Popen[str]], None] | None = None,
                     ) -> CompositeRun:
    """any-os/action.yml on a runner; setup-python is stood in for by this Python."""
    env = clean_env(emu)
    env.pop("PYTHONPATH")  # the steps run what the install step installed, not this checkout
    env.update(env_overrides or {})
    base_python = getattr(sys, "_base_executable", None) or sys.executable
    return run_composite(REPO / "any-os", inputs, env, workspace, runner_temp(),
                         uses_outputs={"python": {"python-path": base_python}},
                         started=started)


def run_any_os(emu: Emulator, workspace: Path, inputs: dict[str, str]) -> HostRun:
    run = run_any_os_steps(emu, workspace, inputs)
    publish = [step for step in run.steps if step.id == "publish"]
    found = github_process(run.stdout + run.stderr)
    files = {"github_output": publish[0].output_file,
             "step_summary.md": publish[0].summary} if publish else {}
    return HostRun(
        "github-any-os", run.returncode, run.stdout, run.stderr,
        # An output no step set reads as '' in the workflow, as if it were never declared.
        outputs={name: value for name, value in run.outputs.items() if value},
        errors=[c.data for c in found if c.name == "error"],
        registered_masks=[c.data for c in found if c.name == "add-mask"],
        files={name: blob for name, blob in files.items() if blob},
    )


def run_gitlab(emu: Emulator, workspace: Path, inputs: dict[str, str]) -> HostRun:
    env = clean_env(emu)
    env.update({"GITLAB_CI": "true", "CI": "true", "CI_PROJECT_DIR": str(workspace),
                "CI_JOB_ID": "4242"})
    env.update({"INTUNE_" + name.replace("-", "_").upper(): v for name, v in inputs.items()})
    proc = _run([sys.executable, "-m", "intune_step.entry"], env, workspace)
    dotenv = workspace / "intune.env"
    errors = [ANSI.sub("", line)[len("ERROR: "):] for line in proc.stdout.split("\n")
              if line.startswith("\x1b[31;1mERROR: ")]
    return HostRun(
        "gitlab", proc.returncode, proc.stdout, proc.stderr,
        outputs=_by_prefix(gitlab_dotenv(dotenv.read_bytes()), "INTUNE_OUTPUT_")
        if dotenv.exists() else {},
        errors=errors, registered_masks=[],
        files={dotenv.name: dotenv.read_bytes()} if dotenv.exists() else {},
    )


def run_azure(emu: Emulator, workspace: Path, inputs: dict[str, str],
              job_env: dict[str, str] | None = None,
              argv: list[str] | None = None) -> HostRun:
    """One step of an Azure Pipelines job: ``job_env`` holds what earlier steps handed it
    (tests/ci_runners.azure_step_environment); ``argv`` another entry than the CI entry."""
    env = clean_env(emu)
    temp = workspace / "_agent_temp"
    temp.mkdir(exist_ok=True)
    env.update({"TF_BUILD": "True", "AGENT_TEMPDIRECTORY": str(temp),
                "BUILD_SOURCESDIRECTORY": str(workspace)})
    env.update(job_env or {})
    env.update({"INTUNE_" + name.replace("-", "_").upper(): v for name, v in inputs.items()})
    proc = _run(argv or [sys.executable, "-m", "intune_step.entry"], env, workspace)
    found = commands(proc.stdout + proc.stderr, azure_parse)
    outputs = {c.properties["variable"].removeprefix("output_").replace("_", "-"): c.data
               for c in found
               if c.name == "task.setvariable" and c.properties.get("isoutput") == "true"}
    summaries = [Path(c.data) for c in found if c.name == "task.uploadsummary"]
    return HostRun(
        "azure", proc.returncode, proc.stdout, proc.stderr, outputs=outputs,
        errors=[c.data for c in found
                if c.name == "task.logissue" and c.properties.get("type") == "error"],
        registered_masks=[c.data for c in found if c.name == "task.setsecret"],
        files={p.name: p.read_bytes() for p in summaries if p.exists()},
        commands=found,
    )


def appcircle_env_vars(emu: Emulator, workspace: Path, inputs: dict[str, str]) -> dict[str, str]:
    """The step's inputs as Appcircle passes them; the credential as Appcircle names it."""
    env = clean_env(emu)
    env.update({"AC_APPCIRCLE": "true", "AC_ENV_FILE_PATH": str(workspace / "ac_env"),
                "AC_OUTPUT_DIR": str(workspace / "ac_output"),
                "AC_TEMP_DIR": str(workspace / "ac_temp"), "AC_REPOSITORY_DIR": str(workspace)})
    credential = {"client-id": "AC_CREDENTIAL_INTUNE_CLIENT_ID",
                  "client-secret": "AC_CREDENTIAL_INTUNE_CLIENT_SECRET",
                  "auth-url": "AC_CREDENTIAL_INTUNE_CLIENT_AUTH_URL"}
    for name, value in inputs.items():
        key = credential.get(name) or "AC_INTUNE_" + name.replace("-", "_").upper()
        env[key] = value
    env["AC_INTUNE_STEP_PYTHON"] = sys.executable  # has intune_step: main.sh skips the install
    return env


def run_appcircle(emu: Emulator, workspace: Path, inputs: dict[str, str],
                  env_overrides: dict[str, str | None] | None = None) -> HostRun:
    """`bash appcircle/main.sh`; an override of None removes that variable."""
    env = appcircle_env_vars(emu, workspace, inputs)
    for key, value in (env_overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    proc = _run(["bash", str(REPO / "appcircle" / "main.sh")], env, workspace)
    env_file = workspace / "ac_env"
    summary = workspace / "ac_output" / "intune-step-summary.md"
    return HostRun(
        "appcircle", proc.returncode, proc.stdout, proc.stderr,
        outputs=_by_prefix(appcircle_env(env_file.read_bytes()), "AC_INTUNE_OUTPUT_")
        if env_file.exists() else {},
        errors=[line[len("@@[error] "):] for line in proc.stdout.splitlines()
                if line.startswith("@@[error] ")],
        registered_masks=[],
        files={p.name: p.read_bytes() for p in (env_file, summary) if p.exists()},
    )


RUNNERS: dict[str, Callable[[Emulator, Path, dict[str, str]], HostRun]] = {
    "github": run_github, "github-any-os": run_any_os, "gitlab": run_gitlab, "azure": run_azure,
    "appcircle": run_appcircle,
}
