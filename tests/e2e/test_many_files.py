"""Several artifacts in one run: a list of paths and glob patterns in `file`, through the real
entry point into the emulator over TLS. They publish concurrently within max-parallel, share
one sign-in, ride out Graph throttling, and the outputs and summary cover each one."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from intune_step.emulator import Emulator, Fault
from intune_step.samples.ipa import build_ipa

from .conftest import CI_MARKERS, FIXTURES, REPO, Run, base_env, run_entrypoint

FAST = {"INTUNE_RETRY_BASE_DELAY": "0.01", "INTUNE_POLL_INTERVAL": "0.01",
        "INTUNE_LOCK_SETTLE_S": "0.2", "INTUNE_BLOCK_SIZE": str(64 * 1024),
        "INTUNE_BLOCKS_IN_FLIGHT": "2"}
FIELDS = ("app-id", "content-version-id", "app-type", "operation", "version", "app-url",
          "file-sha256")
APK = "v2-only-with-ecdsa-sha256-p256.apk"


def workspace(tmp_path: Path, ipas: int = 2, padding: int = 200_000) -> dict[str, Path]:
    """build/app1.ipa, build/app2.ipa... (each its own bundle id) and dist/<a real APK>."""
    files = {}
    for n in range(1, ipas + 1):
        files[f"build/app{n}.ipa"] = build_ipa(tmp_path / "build" / f"app{n}.ipa",
                                               bundle_id=f"com.contoso.app{n}",
                                               padding_bytes=padding)
    (tmp_path / "dist").mkdir()
    files[f"dist/{APK}"] = Path(shutil.copy(FIXTURES / "third_party" / APK, tmp_path / "dist"))
    return files


def results(run: Run) -> list[dict]:
    parsed = json.loads(run.outputs["results"])
    assert isinstance(parsed, list)
    return parsed


def request_index(emu: Emulator, method: str, pattern: str) -> list[int]:
    return [i for i, r in enumerate(emu.request_log)
            if r.method == method and re.search(pattern, r.path)]


@pytest.mark.e2e
@pytest.mark.emulator_config(blob_latency_s=0.1)
def test_a_pattern_and_a_path_publish_every_artifact_at_once(emulator: Emulator,
                                                              tmp_path: Path) -> None:
    files = workspace(tmp_path)
    run = run_entrypoint(emulator, tmp_path, f"build/*.ipa\ndist/{APK}", env=FAST)
    assert run.returncode == 0, run.printed

    # One app per artifact, each holding exactly that file's bytes.
    entries = results(run)
    assert [e["file"] for e in entries] == list(files)  # pattern matches sorted, then the path
    apps = {app["id"]: app for app in emulator.apps()}
    assert sorted(apps) == sorted(e["app-id"] for e in entries)
    for entry, path in zip(entries, files.values(), strict=True):
        assert apps[entry["app-id"]]["publishingState"] == "published"
        assert emulator.committed_content(entry["app-id"]) == path.read_bytes()
        assert entry["operation"] == "created" and "error" not in entry
    # Every other output is a JSON list in the order of `results`.
    for name in FIELDS:
        assert json.loads(run.outputs[name]) == [e[name] for e in entries], name

    # One sign-in for all of them; all three apps existed before the first commit.
    assert len(emulator.issued_tokens) == 1
    creates = request_index(emulator, "POST", r"/deviceAppManagement/mobileApps$")
    commits = request_index(emulator, "POST", r"/commit$")
    assert len(creates) == 3 and max(creates) < min(commits)
    # The summary and the log name each file; progress is one line for the whole run.
    for name in files:
        assert name in run.summary
        assert f"[{name}] Uploading" in run.printed
    progress = [line for line in run.printed.splitlines() if " MiB (" in line]
    assert progress and all(line.startswith("3 artifacts: ") for line in progress)


@pytest.mark.e2e
def test_max_parallel_1_publishes_one_after_another(emulator: Emulator,
                                                    tmp_path: Path) -> None:
    workspace(tmp_path)
    run = run_entrypoint(emulator, tmp_path, "build/app2.ipa, build/app1.ipa", env=FAST,
                         max_parallel="1")
    assert run.returncode == 0, run.printed
    assert [e["file"] for e in results(run)] == ["build/app2.ipa", "build/app1.ipa"]
    creates = request_index(emulator, "POST", r"/deviceAppManagement/mobileApps$")
    commits = request_index(emulator, "POST", r"/commit$")
    assert commits[0] < creates[1]  # the second began after the first was committed


@pytest.mark.e2e
def test_a_pattern_matching_one_file_still_gives_lists(emulator: Emulator,
                                                       tmp_path: Path) -> None:
    workspace(tmp_path, ipas=1)
    run = run_entrypoint(emulator, tmp_path, "build/*.ipa", env=FAST)
    assert run.returncode == 0, run.printed
    [entry] = results(run)
    assert json.loads(run.outputs["app-id"]) == [entry["app-id"]]  # the form follows the input


@pytest.mark.e2e
@pytest.mark.parametrize(("file", "extra", "message"), [
    ("build/*.msi, build/app1.ipa", {}, "file pattern 'build/*.msi' matches no file"),
    ("build/*.ipa", {"app_id": "aaaaaaaa-2222-3333-4444-555555555555"},
     "app-id names one app, but file matches 2 artifacts"),
    ("build/app1.ipa\nother/same.ipa", {}, "are the same app (iosLobApp com.contoso.app1)"),
])
def test_bad_lists_stop_before_any_write(emulator: Emulator, tmp_path: Path, file: str,
                                         extra: dict[str, str], message: str) -> None:
    workspace(tmp_path)
    build_ipa(tmp_path / "other" / "same.ipa", bundle_id="com.contoso.app1")
    run = run_entrypoint(emulator, tmp_path, file, env=FAST, **extra)
    assert run.returncode == 2, run.printed
    errors = [line for line in run.printed.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and message in errors[0], run.printed
    assert emulator.write_requests() == []


@pytest.mark.e2e
def test_one_failed_artifact_does_not_stop_the_others(emulator: Emulator,
                                                      tmp_path: Path) -> None:
    workspace(tmp_path)
    # The first app creation is refused; one at a time, so that is build/app1.ipa's.
    emulator.faults.add(Fault("graph", "POST", r"/deviceAppManagement/mobileApps$",
                              status=400, times=1))
    run = run_entrypoint(emulator, tmp_path, "build/*.ipa", env=FAST, max_parallel="1")
    assert run.returncode == 3, run.printed  # the first failed file's code (a service error)
    first, second = results(run)
    assert first["file"] == "build/app1.ipa" and "HTTP 400" in first["error"]
    assert "app-id" not in first
    assert second["operation"] == "created"
    assert json.loads(run.outputs["app-id"]) == ["", second["app-id"]]
    assert [app["bundleId"] for app in emulator.apps()] == ["com.contoso.app2"]
    errors = [line for line in run.printed.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "build/app1.ipa" in errors[0]
    assert "1 of 2 failed" in run.summary


@pytest.mark.e2e
def test_throttled_graph_calls_are_waited_out_by_every_publish(emulator: Emulator,
                                                               tmp_path: Path) -> None:
    workspace(tmp_path)
    emulator.faults.add(Fault("graph", "POST", r"/contentVersions$", status=429, times=3,
                              headers={"Retry-After": "1"}))
    run = run_entrypoint(emulator, tmp_path, f"build/*.ipa,dist/{APK}", env=FAST)
    assert run.returncode == 0, run.printed
    # Graph's Retry-After, not our own backoff; the publishes under way at once share one
    # wait for the tenant, reported once (transport/throttle.py).
    assert 1 <= run.printed.count("HTTP 429") <= 3
    assert "retrying in 1.0s" in run.printed and "waits until then" in run.printed
    assert len(emulator.apps()) == 3


@pytest.mark.e2e
@pytest.mark.emulator_config(blob_latency_s=0.2)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cancelled_while_several_upload_removes_every_new_app(emulator: Emulator,
                                                              tmp_path: Path,
                                                              sig: signal.Signals) -> None:
    workspace(tmp_path, padding=1_500_000)
    env = base_env(emulator)
    env.update(FAST)
    env.update({"INTUNE_CLIENT_ID": emulator.client_id,
                "INTUNE_CLIENT_SECRET": emulator.client_secret,
                "INTUNE_AUTH_URL": emulator.auth_url, "INTUNE_GRAPH_URL": emulator.graph_url})
    proc = subprocess.Popen([sys.executable, "-m", "intune_step", "publish", "build/*.ipa"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not sum(r.service == "blob" and r.status == 201 for r in emulator.request_log) >= 4:
        assert time.monotonic() < deadline and proc.poll() is None, "no upload started"
        time.sleep(0.01)
    assert len(emulator.apps()) == 2  # both apps exist while their content goes up
    proc.send_signal(sig)  # GitHub sends SIGINT first, GitLab and docker stop SIGTERM
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and f"cancelled ({sig.name})" in err
    assert emulator.apps() == []
    assert not any(r.path.endswith("/commit") for r in emulator.request_log)


def test_the_cli_reads_a_quoted_pattern_before_signing_in(tmp_path: Path) -> None:
    workspace(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(CI_MARKERS)}
    proc = subprocess.run(
        [sys.executable, "-m", "intune_step", "publish", "build/*.apk", "--client-id",
         "11111111-2222-3333-4444-555555555555", "--client-secret", "s3cret-value",
         "--auth-url", "https://login.microsoftonline.com/contoso.onmicrosoft.com"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**env, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2, proc.stderr
    assert "file pattern 'build/*.apk' matches no file" in proc.stderr
