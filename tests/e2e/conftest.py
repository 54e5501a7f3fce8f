"""End-to-end harness: a fresh emulator per test, and the step run as a real process.

Everything goes through real sockets and TLS: the step trusts the emulator's CA through
SSL_CERT_FILE, exactly as a runner behind a TLS-intercepting proxy would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from intune_step.emulator import Emulator, EmulatorConfig

from ..runner_files import parse_github_output

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    marker = request.node.get_closest_marker("emulator_config")
    config = EmulatorConfig(**(marker.kwargs if marker else {}))
    with Emulator(config) as emu:
        yield emu


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emulator_config(**kwargs): EmulatorConfig fields")


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    files: dict[str, bytes]  # every file the step wrote, for secret scans

    @property
    def printed(self) -> str:
        return self.stdout + self.stderr


# Every CI's markers: `intune-step publish` picks its host from them, and the suite may itself
# run inside a CI.
CI_MARKERS = ("INPUT_", "INTUNE_", "GITHUB_", "RUNNER_", "GITLAB_", "TF_BUILD",
              "SYSTEM_TEAMFOUNDATION", "AC_APPCIRCLE")


def base_env(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CI_MARKERS)}
    env["SSL_CERT_FILE"] = str(emu.ca_path)
    env.pop("SSL_CERT_DIR", None)
    # Keep waits short against the emulator; the defaults suit the real service.
    env["INTUNE_LOCK_SETTLE_S"] = "0.3"  # one local round trip is far shorter
    env["PYTHONPATH"] = str(REPO)
    return env


def run_entrypoint(emu: Emulator, workspace: Path, file: str,
                   env: dict[str, str] | None = None, **inputs: str) -> Run:
    """Run `python entrypoint.py` as the GitHub runner would start the container."""
    extra_env = env or {}
    env = base_env(emu)
    env.update(extra_env)
    output, summary = workspace / "github_output", workspace / "step_summary.md"
    env.update({
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "INPUT_FILE": file,
        "INPUT_CLIENT-ID": emu.client_id,
        "INPUT_CLIENT-SECRET": emu.client_secret,
        "INPUT_AUTH-URL": emu.auth_url,
        "INPUT_GRAPH-URL": emu.graph_url,
        "INPUT_SETTING-NAME": "e2e",
        "INPUT_DRY-RUN": "false",
    })
    for key, value in inputs.items():
        env["INPUT_" + key.replace("_", "-").upper()] = value
    proc = subprocess.run([sys.executable, str(REPO / "entrypoint.py")], cwd=workspace,
                          env=env, capture_output=True, text=True, timeout=300)
    return Run(
        returncode=proc.returncode, stdout=proc.stdout, stderr=proc.stderr,
        outputs=parse_github_output(output) if output.exists() else {},
        summary=summary.read_text() if summary.exists() else "",
        files={p.name: p.read_bytes() for p in (output, summary) if p.exists()},
    )


def run_cli(emu: Emulator, file: Path, *args: str, command: str = "publish",
            **env_overrides: str) -> Run:
    """Run `python -m intune_step publish FILE` (or ``command``) with settings from INTUNE_*
    variables."""
    env = base_env(emu)
    env.update({
        "INTUNE_CLIENT_ID": emu.client_id,
        "INTUNE_CLIENT_SECRET": emu.client_secret,
        "INTUNE_AUTH_URL": emu.auth_url,
        "INTUNE_GRAPH_URL": emu.graph_url,
        "INTUNE_SETTING_NAME": "e2e-cli",
    })
    env.update(env_overrides)
    proc = subprocess.run([sys.executable, "-m", "intune_step", command, str(file), *args],
                          env=env, capture_output=True, text=True, timeout=300)
    outputs = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return Run(proc.returncode, proc.stdout, proc.stderr, outputs, "", {})
