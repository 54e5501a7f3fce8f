"""Each CI host end to end: its real entry, its environment, the emulator over TLS.

For every host: the outputs arrive in that host's format, secrets are masked the host's way
(or, where the host cannot mask, never printed), and a failing run reports its error in the
host's error format with the right exit status and no outputs.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from intune_step.emulator import Emulator
from intune_step.samples.ipa import build_ipa

from .hosts import OUTPUT_NAMES, REPO, RUNNERS, HostRun, run_appcircle, settings

HOSTS = sorted(RUNNERS)
# Appcircle steps pass or fail (exit 1); the other hosts see intune-step's own exit codes.
EXIT = {"appcircle": {"bad-input": 1, "service": 1}}
HOSTILE_NAME = "missing 100%;]:,\nname.ipa"


def exit_code(host: str, kind: str) -> int:
    return EXIT.get(host, {}).get(kind, {"bad-input": 2, "service": 3}[kind])


def assert_no_secret_shown(emu: Emulator, run: HostRun) -> None:
    tokens = list(emu.issued_tokens)
    for secret in [emu.client_secret, *tokens]:
        assert secret not in run.shown(), run.host
        for name, blob in run.files.items():
            assert secret.encode() not in blob, (run.host, name)


def assert_masking_the_hosts_way(emu: Emulator, run: HostRun) -> None:
    assert_no_secret_shown(emu, run)
    if run.host in ("github", "github-any-os", "azure"):  # masking command: secret first
        assert run.registered_masks[0] == emu.client_secret
        assert any(token in run.registered_masks for token in emu.issued_tokens)
    else:  # GitLab and Appcircle cannot mask at run time: nothing may reach the log
        assert run.registered_masks == []
        assert "add-mask" not in run.printed and "setsecret" not in run.printed


@pytest.mark.e2e
@pytest.mark.parametrize("host", HOSTS)
def test_publish_writes_outputs_in_the_hosts_format(emulator: Emulator, tmp_path: Path,
                                                    host: str) -> None:
    ipa = build_ipa(tmp_path / "Demo.ipa", bundle_id=f"com.example.{host}", version="1.2.3",
                    build="45")
    run = RUNNERS[host](emulator, tmp_path, settings(emulator, "Demo.ipa"))
    assert run.returncode == 0, run.printed
    apps = emulator.apps()
    assert len(apps) == 1 and apps[0]["bundleId"] == f"com.example.{host}"
    assert set(run.outputs) == set(OUTPUT_NAMES), run.printed
    assert run.outputs["app-id"] == apps[0]["id"]
    assert run.outputs["operation"] == "created"
    assert run.outputs["version"] == "1.2.3 (45)"
    assert run.outputs["file-sha256"] == hashlib.sha256(ipa.read_bytes()).hexdigest()
    assert run.errors == []
    assert_masking_the_hosts_way(emulator, run)
    app_id = run.outputs["app-id"]
    if host in ("github", "github-any-os"):
        assert "app-id<<ghadelimiter_" in run.files["github_output"].decode()
        assert "Published to Intune" in run.files["step_summary.md"].decode()
    elif host == "gitlab":
        assert f"INTUNE_OUTPUT_APP_ID={app_id}\n" in run.files["intune.env"].decode()
        assert "section_start:" in run.stdout and "section_end:" in run.stdout
    elif host == "azure":
        assert (f"##vso[task.setvariable variable=output_app_id;isoutput=true]{app_id}"
                in run.stdout)
        [summary] = [blob for name, blob in run.files.items() if name.endswith(".md")]
        assert b"Published to Intune" in summary
    else:
        assert f"AC_INTUNE_OUTPUT_APP_ID={app_id}\n" in run.files["ac_env"].decode()
        assert b"Published to Intune" in run.files["intune-step-summary.md"]
        # Appcircle's own credential variables were the source of the credential.
        assert "client-secret: from AC_CREDENTIAL_INTUNE_CLIENT_SECRET" in run.stdout


@pytest.mark.e2e
@pytest.mark.parametrize("host", HOSTS)
def test_a_failed_commit_is_one_error_in_the_hosts_format(emulator: Emulator, tmp_path: Path,
                                                          host: str) -> None:
    build_ipa(tmp_path / "app.ipa")
    emulator.fail_next_commit(times=2)  # the step commits twice
    run = RUNNERS[host](emulator, tmp_path, settings(emulator, "app.ipa"))
    assert run.returncode == exit_code(host, "service"), run.printed
    assert len(run.errors) == 1 and "commitFileFailed" in run.errors[0], run.printed
    assert run.outputs == {}
    assert emulator.apps() == []  # the half-created app was removed
    assert_masking_the_hosts_way(emulator, run)
    assert "Traceback" not in run.printed


@pytest.mark.e2e
@pytest.mark.parametrize("host", HOSTS)
def test_bad_input_error_survives_the_hosts_escaping(emulator: Emulator, tmp_path: Path,
                                                     host: str) -> None:
    """The error names a file with %, ;, ], :, ',' and a newline: decoded by the host's own
    parser it must read back exactly (the newline is folded by the one-line error)."""
    run = RUNNERS[host](emulator, tmp_path, settings(emulator, HOSTILE_NAME))
    assert run.returncode == exit_code(host, "bad-input"), run.printed
    assert len(run.errors) == 1, run.printed
    assert "artifact not found" in run.errors[0]
    assert "missing 100%;]:," in run.errors[0]
    assert emulator.write_requests() == []
    assert run.outputs == {}
    assert_no_secret_shown(emulator, run)


@pytest.mark.e2e
def test_appcircle_main_sh_installs_the_package_when_the_runner_lacks_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The real install path: a bare Python, a venv, the hash-checked set, then publish."""
    build_ipa(tmp_path / "app.ipa", bundle_id="com.example.installed")
    base_python = getattr(sys, "_base_executable", None) or "python3"
    run = run_appcircle(emulator, tmp_path, settings(emulator, "app.ipa"),
                        env_overrides={"AC_INTUNE_STEP_PYTHON": base_python,
                                       "AC_INTUNE_STEP_PACKAGE": str(REPO),
                                       "PYTHONPATH": None})
    assert run.returncode == 0, run.printed
    assert "@@[command]" in run.stdout and " -m venv " in run.stdout
    assert "pip install" in run.stdout and "--require-hashes" in run.stdout
    assert "requirements.lock" in run.stdout
    assert run.outputs["app-id"] == emulator.apps()[0]["id"]
    assert_masking_the_hosts_way(emulator, run)


@pytest.mark.e2e
@pytest.mark.parametrize("host", HOSTS)
def test_ring_publish_and_promotion_write_outputs_in_the_hosts_format(
        emulator: Emulator, tmp_path: Path, host: str) -> None:
    pilot, broad = emulator.add_group("Pilot devices"), emulator.add_group("All staff")
    build_ipa(tmp_path / "Demo.ipa", bundle_id=f"com.example.rings.{host}", version="1.0",
              build="1")
    rings = "{pilot: {groups: [Pilot devices]}, broad: {groups: [All staff]}}"
    first = RUNNERS[host](emulator, tmp_path, {**settings(emulator, "Demo.ipa"),
                                               "rings": rings, "ring": "pilot"})
    assert first.returncode == 0, first.printed
    assert first.outputs["rings"] == "pilot", first.printed
    second = RUNNERS[host](emulator, tmp_path, {**settings(emulator, "Demo.ipa"),
                                                "rings": rings, "promote-to": "broad"})
    assert second.returncode == 0, second.printed
    assert second.outputs["operation"] == "promoted"
    assert second.outputs["rings"] == "pilot,broad"
    assert second.outputs["app-id"] == first.outputs["app-id"]
    [app] = emulator.apps()
    found = emulator.app(str(app["id"]))
    assert found is not None
    assert {a["target"]["groupId"] for a in found["assignments"]} == {pilot, broad}
    assert_no_secret_shown(emulator, second)
