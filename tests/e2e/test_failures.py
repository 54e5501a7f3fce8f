"""Bad input fails fast and writes nothing; a failed new app is removed; secrets never leak."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from intune_step.emulator import Emulator
from intune_step.samples.ipa import build_ipa

from .conftest import FIXTURES, Run, run_cli, run_entrypoint


def error_lines(run: Run) -> list[str]:
    return [line for line in run.printed.splitlines()
            if line.startswith(("::error", "Error:"))]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("make", "inputs", "expected"),
    [
        (lambda d: (d / "app.aab").write_bytes(b"PK\x03\x04bundle"), {}, "Android App Bundle"),
        (lambda d: (d / "app.ipa").write_bytes(b"not a zip"), {}, "not a valid IPA"),
        (lambda d: None, {}, "artifact not found"),
        (lambda d: (d / "app.ipa").mkdir(), {}, "is not a file"),
        (lambda d: build_ipa(d / "app.ipa"), {"auth_url": "http://login.example/t/oauth2/v2.0/"
                                              "token"}, "auth-url must use https"),
        (lambda d: build_ipa(d / "app.ipa"), {"client_id": "not-a-guid"}, "not a GUID"),
        (lambda d: build_ipa(d / "app.ipa"), {"client_secret": ""}, "missing client-secret"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_write(
    emulator: Emulator, tmp_path: Path, make, inputs: dict[str, str], expected: str
) -> None:
    make(tmp_path)
    name = "app.aab" if expected == "Android App Bundle" else "app.ipa"
    run = run_entrypoint(emulator, tmp_path, name, **inputs)
    assert run.returncode == 2, run.printed
    errors = error_lines(run)
    assert len(errors) == 1 and expected in errors[0], run.printed
    assert "Traceback" not in run.printed
    assert emulator.write_requests() == []
    assert run.outputs == {}


@pytest.mark.e2e
def test_wrong_secret_is_explained(emulator: Emulator, tmp_path: Path) -> None:
    build_ipa(tmp_path / "app.ipa")
    run = run_entrypoint(emulator, tmp_path, "app.ipa", client_secret="wrong-secret-value")
    assert run.returncode == 2
    assert "AADSTS7000215" in run.stdout and "refused the client secret" in run.stdout
    assert emulator.write_requests() == []


@pytest.mark.e2e
def test_app_id_of_another_type_is_refused_before_any_write(
    emulator: Emulator, tmp_path: Path
) -> None:
    shutil.copy(FIXTURES / "third_party" / "v2-only-targetSandboxVersion-2.apk", tmp_path / "a.apk")
    first = run_entrypoint(emulator, tmp_path, "a.apk")
    assert first.returncode == 0, first.printed
    writes = len(emulator.write_requests())
    build_ipa(tmp_path / "app.ipa")
    run = run_entrypoint(emulator, tmp_path, "app.ipa", app_id=first.outputs["app-id"])
    assert run.returncode == 2
    assert "is a androidLobApp" in run.stdout or "androidLobApp" in error_lines(run)[0]
    assert len(emulator.write_requests()) == writes


@pytest.mark.e2e
def test_failed_commit_removes_the_new_app(emulator: Emulator, tmp_path: Path) -> None:
    build_ipa(tmp_path / "app.ipa")
    emulator.fail_next_commit(times=2)  # the step commits twice
    run = run_entrypoint(emulator, tmp_path, "app.ipa")
    assert run.returncode == 3, run.printed
    assert "commitFileFailed" in error_lines(run)[0]
    assert "Removed the half-created app" in run.stdout
    assert emulator.apps() == []


@pytest.mark.e2e
def test_no_secret_or_token_in_anything_the_step_wrote(emulator: Emulator, tmp_path: Path) -> None:
    """Success and failure, GitHub and CLI: scan every byte printed or written."""
    build_ipa(tmp_path / "app.ipa")
    runs = [
        run_entrypoint(emulator, tmp_path, "app.ipa"),
        run_cli(emulator, tmp_path / "app.ipa"),
        run_entrypoint(emulator, tmp_path, "missing.ipa"),
        run_entrypoint(emulator, tmp_path, "app.ipa", client_secret="wrong-secret-value"),
    ]
    emulator.fail_next_commit(times=2)  # the step commits twice
    build_ipa(tmp_path / "other.ipa", bundle_id="com.example.other")  # the same file is unchanged
    runs.append(run_entrypoint(emulator, tmp_path, "other.ipa"))
    assert [r.returncode for r in runs] == [0, 0, 2, 2, 3]
    tokens = list(emulator.issued_tokens)
    assert tokens, "the emulator issued no token: the scan would prove nothing"
    secrets = [emulator.client_secret, "wrong-secret-value", *tokens]
    for run in runs:
        # ::add-mask:: lines are consumed by the runner, never shown; nothing else may hold one.
        shown = "\n".join(line for line in run.printed.splitlines()
                          if not line.startswith("::add-mask::"))
        blobs = [shown, run.summary, *(b.decode("utf-8", "replace") for b in run.files.values())]
        for secret in secrets:
            for blob in blobs:
                assert secret not in blob
    masks = [line for line in runs[0].stdout.splitlines() if line.startswith("::add-mask::")]
    assert f"::add-mask::{emulator.client_secret}" == masks[0]
    assert any(token in line for line in masks for token in tokens)
