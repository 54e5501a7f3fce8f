"""The typed library call, used as a script would: no CI host, no environment, real TLS."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

import intune_step
from intune_step import (
    IntuneStepError,
    Outcome,
    PublishResult,
    Tuning,
    build_options,
    build_settings,
    publish_files,
)
from intune_step.emulator import Emulator
from intune_step.report import RecordingReporter
from intune_step.samples.ipa import build_ipa

pytestmark = pytest.mark.e2e


def _settings(emulator: Emulator) -> intune_step.Settings:
    return build_settings({"client-id": emulator.client_id,
                           "client-secret": emulator.client_secret,
                           "auth-url": emulator.auth_url, "graph-url": emulator.graph_url})


def _tuning(emulator: Emulator) -> Tuning:
    return Tuning(ca_file=emulator.ca_path, poll_interval=0.05)


def test_publish_files_publishes_and_returns_typed_results(
        emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ipa = build_ipa(tmp_path / "Field.ipa", bundle_id="com.contoso.field", version="2.1",
                    build="21")
    options = build_options({"file": str(ipa), "display-name": "Field Service"})
    with caplog.at_level(logging.INFO, logger="intune_step"):
        outcomes = publish_files(_settings(emulator), options, tuning=_tuning(emulator))
    (outcome,) = outcomes
    assert isinstance(outcome, Outcome) and outcome.error is None
    result = outcome.result
    assert isinstance(result, PublishResult) and result.operation == "created"
    (app,) = emulator.apps()
    assert result.app_id == app["id"] and app["displayName"] == "Field Service"
    assert result.file_sha256 == hashlib.sha256(ipa.read_bytes()).hexdigest()
    assert emulator.committed_content(app["id"]) == ipa.read_bytes()
    # The default reporter is the "intune_step" logger, scrubbed of the secret.
    assert any(f"Verified app {app['id']}" in r.getMessage() for r in caplog.records)
    assert not any(emulator.client_secret in r.getMessage() for r in caplog.records)
    again = publish_files(_settings(emulator), options, tuning=_tuning(emulator))
    assert again[0].result is not None and again[0].result.operation == "unchanged"


def test_a_failing_file_ends_in_its_outcome_and_the_others_go_on(
        emulator: Emulator, tmp_path: Path) -> None:
    build_ipa(tmp_path / "a.ipa", bundle_id="com.contoso.a", version="1.0")
    build_ipa(tmp_path / "b.ipa", bundle_id="com.contoso.b", version="1.0")
    reporter = RecordingReporter()
    settings = _settings(emulator)
    publish_files(settings, build_options({"file": str(tmp_path / "b.ipa")}),
                  reporter=reporter, tuning=_tuning(emulator))
    build_ipa(tmp_path / "b.ipa", bundle_id="com.contoso.b", version="1.0", padding_bytes=9)
    options = build_options({"file": "*.ipa"}, tmp_path)
    outcomes = publish_files(settings, options, reporter=reporter, tuning=_tuning(emulator),
                             workspace=tmp_path)
    assert [o.file for o in outcomes] == ["a.ipa", "b.ipa"]
    assert outcomes[0].result is not None and outcomes[0].result.operation == "created"
    assert outcomes[1].result is None and isinstance(outcomes[1].error, IntuneStepError)
    assert "is already the version of app" in str(outcomes[1].error)  # another build, same number
    assert outcomes[1].exit_code == 2
    assert any(line.startswith("[a.ipa] ") for line in reporter.lines)


def test_bad_input_raises_before_anything_is_sent(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "broken.ipa").write_bytes(b"not a zip")
    with pytest.raises(IntuneStepError, match=r"broken\.ipa"):
        publish_files(_settings(emulator), build_options({"file": str(tmp_path / "broken.ipa")}),
                      reporter=RecordingReporter(), tuning=_tuning(emulator))
    assert emulator.request_log == []  # not even a sign-in
