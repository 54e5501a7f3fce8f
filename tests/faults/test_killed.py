"""A run killed mid-upload: cancelled (SIGINT, as GitHub does first, or SIGTERM) it cleans
up; killed (SIGKILL) the next run finishes the job. Either way the tenant ends with one
published app or none, never a half-made one that a later run trips over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from intune_step.emulator import Emulator, EmulatorConfig
from intune_step.samples.ipa import build_ipa

from ..e2e.conftest import base_env, run_cli
from .test_matrix import FAST

SLOW_BLOBS = EmulatorConfig(blob_latency_s=0.2)
# A dead run's lock on the app goes stale after INTUNE_LOCK_STALE_S (graph/lock.py).
ONE_AT_A_TIME = {**FAST, "INTUNE_BLOCKS_IN_FLIGHT": "1", "INTUNE_LOCK_STALE_S": "1",
                 "INTUNE_LOCK_HEARTBEAT_S": "0.3", "INTUNE_LOCK_POLL_S": "0.2"}


def start_cli(emu: Emulator, file: Path) -> subprocess.Popen[str]:
    env = base_env(emu)
    env.update(ONE_AT_A_TIME)
    env.update({"INTUNE_CLIENT_ID": emu.client_id, "INTUNE_CLIENT_SECRET": emu.client_secret,
                "INTUNE_AUTH_URL": emu.auth_url, "INTUNE_GRAPH_URL": emu.graph_url})
    return subprocess.Popen([sys.executable, "-m", "intune_step", "publish", str(file)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_first_block(emu: Emulator, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if any(r.service == "blob" and r.status == 201 for r in emu.request_log):
            return
        time.sleep(0.01)
    raise AssertionError(f"the upload never started (exit {proc.poll()})")


@pytest.mark.e2e
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cancelled_mid_upload_removes_the_new_app(tmp_path: Path, sig: signal.Signals) -> None:
    ipa = build_ipa(tmp_path / "app.ipa", padding_bytes=600_000)
    with Emulator(SLOW_BLOBS) as emu:
        proc = start_cli(emu, ipa)
        wait_for_first_block(emu, proc)
        assert emu.apps(), "the app should exist while its content uploads"
        proc.send_signal(sig)
        if sig == signal.SIGINT:
            proc.send_signal(signal.SIGTERM)  # the runner's next signal, during cleanup
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, out + err
        assert f"the job was cancelled ({sig.name})" in err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err
        assert len([line for line in err.splitlines() if "Cancelled" in line]) == 1, err
        assert "Removed the half-created app" in err
        assert emu.apps() == []
        assert not any(r.path.endswith("/commit") for r in emu.request_log)


@pytest.mark.e2e
def test_killed_mid_upload_then_the_next_run_publishes_once(tmp_path: Path) -> None:
    ipa = build_ipa(tmp_path / "app.ipa", padding_bytes=600_000)
    with Emulator(SLOW_BLOBS) as emu:
        proc = start_cli(emu, ipa)
        wait_for_first_block(emu, proc)
        os.kill(proc.pid, signal.SIGKILL)  # no handler runs: whatever was made stays
        proc.communicate(timeout=60)
        [orphan] = emu.apps()
        assert orphan["committedContentVersion"] is None
        rerun = run_cli(emu, ipa, **ONE_AT_A_TIME)  # waits out the dead run's lock
        assert rerun.returncode == 0, rerun.printed
        [app] = emu.apps()  # the dead run's app was taken over, not duplicated
        assert app["publishingState"] == "published"
        assert emu.committed_content(app["id"]) == ipa.read_bytes()
