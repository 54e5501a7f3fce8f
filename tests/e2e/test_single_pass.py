"""A first publish reads the artifact once: the upload's own pass gives the file's hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from intune_step.ci.local import LocalHost
from intune_step.commands.run import run_publish
from intune_step.emulator import Emulator
from intune_step.publish import flow
from intune_step.samples.ipa import build_ipa


@pytest.mark.e2e
def test_a_new_app_needs_no_separate_hashing_read(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def second_read(path: Path) -> str:
        raise AssertionError(f"{path.name} was read a second time just to hash it")

    monkeypatch.setattr(flow, "file_sha256", second_read)
    monkeypatch.setenv("SSL_CERT_FILE", str(emulator.ca_path))
    monkeypatch.setenv("INTUNE_POLL_INTERVAL", "0.05")
    ipa = build_ipa(tmp_path / "app.ipa", padding_bytes=300_000)
    code = run_publish({"file": str(ipa), "client-id": emulator.client_id,
                        "client-secret": emulator.client_secret, "auth-url": emulator.auth_url,
                        "graph-url": emulator.graph_url}, LocalHost())
    assert code == 0
    (app,) = emulator.apps()
    assert emulator.committed_sha256(app["id"]) == hashlib.sha256(ipa.read_bytes()).hexdigest()
    assert hashlib.sha256(ipa.read_bytes()).hexdigest() in app["notes"]  # the tag has the hash
