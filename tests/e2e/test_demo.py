"""`intune-step demo` (what `./scripts/demo` runs) as a newcomer sees it: the sample app, with
its icon, is published, a re-run ends `unchanged`, and the last lines say what to do next."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_the_demo_publishes_reruns_unchanged_and_says_what_next() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTUNE_", "GITHUB_"))}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [sys.executable, "-m", "intune_step", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    operations = [
        line.split("=", 1)[1] for line in proc.stdout.splitlines() if line.startswith("operation=")
    ]
    assert operations == ["created", "unchanged"]
    log = proc.stderr
    assert "icon: image/png" in log and "from Demo.ipa:Payload/Demo.app/AppIcon60x60@2x.png" in log
    assert "committed content version 1, icon yes" in log
    assert "### Published to Intune" in log and "| Operation | created |" in log
    tail = log.rstrip().splitlines()[-6:]
    assert tail[0] == "Next:" and any("intune-step emulator" in line for line in tail)
    assert any("./scripts/test" in line for line in tail)
