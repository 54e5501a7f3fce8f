"""The upload through a real Azure Storage implementation, and across expiring credentials."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from intune_step.emulator import Emulator
from intune_step.emulator.azurite import find_azurite_blob
from intune_step.samples.ipa import build_ipa

from .conftest import run_entrypoint

SMALL_BLOCKS = {"INTUNE_BLOCK_SIZE": str(64 * 1024), "INTUNE_BLOCKS_IN_FLIGHT": "2"}


def require_azurite() -> None:
    if find_azurite_blob() is None:
        if os.environ.get("CI"):  # CI installs it (scripts/setup): missing there is a failure
            pytest.fail("azurite-blob is not installed; scripts/setup should have installed it")
        pytest.skip("azurite-blob not installed (npm install --no-save azurite)")


@pytest.mark.e2e
@pytest.mark.azurite
def test_publish_through_azurite(tmp_path: Path) -> None:
    require_azurite()
    from intune_step.emulator import EmulatorConfig

    with Emulator(EmulatorConfig(blob_backend="azurite")) as emu:
        ipa = build_ipa(tmp_path / "app.ipa", padding_bytes=700_000)
        run = run_entrypoint(emu, tmp_path, "app.ipa", env=SMALL_BLOCKS)
        assert run.returncode == 0, run.printed
        blob_hosts = {f["azureStorageUri"].split("/")[2] for f in emu.files(run.outputs["app-id"])}
        assert blob_hosts == {emu.azurite_url.split("/")[2]}
        assert emu.committed_content(run.outputs["app-id"]) == ipa.read_bytes()


@pytest.mark.e2e
@pytest.mark.emulator_config(token_lifetime_s=2, blob_latency_s=0.25)
def test_token_expiring_mid_upload_is_renewed(emulator: Emulator, tmp_path: Path) -> None:
    ipa = build_ipa(tmp_path / "app.ipa", padding_bytes=800_000)
    run = run_entrypoint(emulator, tmp_path, "app.ipa", env=SMALL_BLOCKS)
    assert run.returncode == 0, run.printed
    # ~13 blocks two at a time with 0.25 s each: the first token died during the upload.
    assert len(emulator.issued_tokens) >= 2
    assert emulator.committed_content(run.outputs["app-id"]) == ipa.read_bytes()


@pytest.mark.e2e
@pytest.mark.emulator_config(sas_lifetime_s=3, blob_latency_s=0.25)
def test_upload_url_is_renewed_before_it_expires(emulator: Emulator, tmp_path: Path) -> None:
    # ~24 blocks of 64 KiB, two at a time, 0.25 s each: about 3 s of upload, so the 3 s SAS
    # must be renewed while blocks are still going up.
    ipa = build_ipa(tmp_path / "app.ipa", padding_bytes=1_500_000)
    run = run_entrypoint(emulator, tmp_path, "app.ipa", env=SMALL_BLOCKS)
    assert run.returncode == 0, run.printed
    log = emulator.request_log
    renewals = [i for i, r in enumerate(log) if r.path.endswith("/renewUpload")]
    blocks = [i for i, r in enumerate(log) if r.service == "blob" and "comp=block&" in r.query]
    assert renewals, "the upload outlived the SAS without renewing it"
    # Mid-upload: blocks went up before the first renewal and after it.
    assert blocks[0] < renewals[0] < blocks[-1]
    # Ahead of expiry, not after Azure refused a block: the first renewal precedes any 403
    # (with renew_rotates_sig a block already on the wire with the old sig may get one).
    refused = [i for i in blocks if log[i].status == 403]
    assert not refused or renewals[0] < refused[0]
    # The blocks after the renewal carried the new signature, and the blob is whole.
    sigs = [re.search(r"sig=([^&]+)", log[i].query).group(1)  # type: ignore[union-attr]
            for i in blocks if log[i].status == 201]
    assert len(set(sigs)) >= 2 and sigs[-1] != sigs[0]
    assert emulator.committed_content(run.outputs["app-id"]) == ipa.read_bytes()
