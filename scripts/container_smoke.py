"""Publish a generated IPA from inside the built image into the emulator running here.

The runner starts a Docker action with `--entrypoint <runs.entrypoint> <image> <args>`, the
workspace mounted at /github/workspace and every input as INPUT_<NAME>; this does the same
through container-check (host network, so the emulator on 127.0.0.1 is reachable).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from intune_step.emulator import Emulator, EmulatorConfig
from intune_step.samples.ipa import build_ipa

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--container-check", required=True)
    args = parser.parse_args()
    action = yaml.safe_load((REPO / "action.yml").read_text())
    entry = [action["runs"]["entrypoint"], *action["runs"].get("args", [])]
    with tempfile.TemporaryDirectory() as tmp, Emulator(EmulatorConfig()) as emu:
        workspace = Path(tmp)
        build_ipa(workspace / "build" / "Demo.ipa", bundle_id="com.example.container")
        shutil.copy(emu.ca_path, workspace / "emulator-ca.pem")
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
        outputs = (workspace / "output.txt").read_text() if (workspace / "output.txt").exists() \
            else ""
        ok = (result.returncode == 0 and len(apps) == 1
              and apps[0].get("publishingState") == "published"
              and "app-id<<" in outputs and apps[0]["id"] in outputs)
        print(f"container-smoke: exit {result.returncode}, apps in emulator: {len(apps)}, "
              f"{'OK' if ok else 'FAILED'}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
