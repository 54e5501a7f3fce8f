"""Publish a generated IPA from inside the built image into the emulator running here.

The runner starts a Docker action with `--entrypoint <runs.entrypoint> <image> <args>`, the
workspace mounted at /github/workspace and every input as INPUT_<NAME>; this does the same
through container-check (host network, so the emulator on 127.0.0.1 is reachable).

It also checks the supply-chain promises: the image runs as a non-root user (``id -u``), and
as GitHub-hosted runners do, the workspace and the output files belong to the runner's uid
(1001) and were created before the step starts (actions/runner ``FileCommandManager``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from intune_step.emulator import Emulator, EmulatorConfig
from intune_step.samples.ipa import build_ipa

REPO = Path(__file__).resolve().parent.parent
RUNNER_UID = 1001  # the `runner` user of GitHub-hosted runners


def in_image(container_check: str, *command: str) -> str | None:
    """stdout of a command run in the built image, or None when it failed."""
    result = subprocess.run(
        ["bash", container_check, "run", "-w", "/", "--", *command],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return result.stdout if result.returncode == 0 else None


def image_uid(container_check: str) -> int | None:
    lines = (in_image(container_check, "id", "-u") or "").split()
    return int(lines[-1]) if lines and lines[-1].isdigit() else None


def locked_pins(path: Path) -> dict[str, str]:
    """name -> version of every pin in a hash-locked requirements file."""
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def unlocked_in_image(container_check: str) -> list[str] | None:
    """Locked packages the image lacks or holds at another version (None: could not ask)."""
    listed = in_image(container_check, "python", "-m", "pip", "list", "--format=freeze")
    if listed is None:
        return None
    installed = {}
    for line in listed.splitlines():
        name, _, version = line.partition("==")
        installed[name.lower().replace("_", "-")] = version
    wanted = {
        **locked_pins(REPO / "requirements.lock"),
        **locked_pins(REPO / "requirements-build.lock"),
    }
    return [
        f"{name}=={version}"
        for name, version in sorted(wanted.items())
        if installed.get(name) != version
    ]


def as_the_runner_leaves_it(workspace: Path) -> None:
    """The runner creates the file-command files empty; the workspace is the runner user's."""
    for name in ("output.txt", "summary.md"):
        (workspace / name).touch()
    if os.geteuid() == 0:
        for path in [workspace, *workspace.rglob("*")]:
            os.chown(path, RUNNER_UID, RUNNER_UID)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--container-check", required=True)
    args = parser.parse_args()
    action = yaml.safe_load((REPO / "action.yml").read_text())
    entry = [action["runs"]["entrypoint"], *action["runs"].get("args", [])]
    uid = image_uid(args.container_check)
    print(f"container-smoke: the image runs as uid {uid}")
    if uid is None or uid == 0:
        print("container-smoke: FAILED, the image must run as a non-root user")
        return 1
    differ = unlocked_in_image(args.container_check)
    if differ is None or differ:
        print(f"container-smoke: FAILED, the image does not hold the locked set: {differ}")
        return 1
    print("container-smoke: the image holds exactly the hash-locked versions")
    with tempfile.TemporaryDirectory() as tmp, Emulator(EmulatorConfig()) as emu:
        workspace = Path(tmp)
        build_ipa(workspace / "build" / "Demo.ipa", bundle_id="com.example.container")
        shutil.copy(emu.ca_path, workspace / "emulator-ca.pem")
        as_the_runner_leaves_it(workspace)
        env = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": "/github/workspace",
            "GITHUB_OUTPUT": "/github/workspace/output.txt",
            "GITHUB_STEP_SUMMARY": "/github/workspace/summary.md",
            "SSL_CERT_FILE": "/github/workspace/emulator-ca.pem",
            "INPUT_FILE": "build/Demo.ipa",
            "INPUT_CLIENT-ID": emu.client_id,
            "INPUT_CLIENT-SECRET": emu.client_secret,
            "INPUT_AUTH-URL": emu.auth_url,
            "INPUT_GRAPH-URL": emu.graph_url,
            "INPUT_SETTING-NAME": "container-smoke",
        }
        command = ["bash", args.container_check, "run"]
        for key, value in env.items():
            command += ["-e", f"{key}={value}"]
        command += ["-v", f"{workspace}:/github/workspace", "--", *entry]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        stdout, stderr = result.stdout, result.stderr
        for secret in (emu.client_secret, *emu.issued_tokens):
            stdout, stderr = stdout.replace(secret, "***"), stderr.replace(secret, "***")
        sys.stdout.write(stdout)
        sys.stderr.write(stderr)
        apps = emu.apps()
        outputs = (
            (workspace / "output.txt").read_text() if (workspace / "output.txt").exists() else ""
        )
        ok = (
            result.returncode == 0
            and len(apps) == 1
            and apps[0].get("publishingState") == "published"
            and "app-id<<" in outputs
            and apps[0]["id"] in outputs
        )
        print(
            f"container-smoke: exit {result.returncode}, apps in emulator: {len(apps)}, "
            f"{'OK' if ok else 'FAILED'}"
        )
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
