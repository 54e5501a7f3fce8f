"""The same upload with blobs in Azurite (Microsoft's storage emulator) instead of the
built-in store: the SAS the emulator signs must satisfy a real Azure Storage implementation."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from intune_step.crypto import encrypt_bytes
from intune_step.emulator import Emulator, EmulatorConfig
from intune_step.emulator.azurite import find_azurite_blob

from .helpers import Api

pytestmark = [
    pytest.mark.azurite,
    pytest.mark.skipif(
        find_azurite_blob() is None,
        reason="azurite-blob not installed (npm install --no-save azurite)",
    ),
]


@pytest.fixture(scope="module")
def azurite_emu() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(blob_backend="azurite")) as emu:
        yield emu


@pytest.fixture
def azurite_api(azurite_emu: Emulator) -> Iterator[Api]:
    with httpx.Client(verify=azurite_emu.ssl_context(), timeout=30) as http:
        yield Api(azurite_emu, http)


def test_upload_through_azurite(azurite_emu: Emulator, azurite_api: Api) -> None:
    plaintext = os.urandom(300_000)
    upload = azurite_api.full_upload(plaintext, block_size=64 * 1024)
    assert upload.entity["azureStorageUri"].startswith(azurite_emu.azurite_url or "")
    assert "?sv=2017-04-17&sr=b&si=" in upload.entity["azureStorageUri"]
    assert azurite_emu.committed_content(upload.app_id) == plaintext
    # the blob listener of the emulator saw nothing: Azurite took the blocks
    assert not [r for r in azurite_emu.request_log if r.service == "blob"]


def test_azurite_sas_expiry_and_renewal(azurite_emu: Emulator, azurite_api: Api) -> None:
    api = azurite_api
    plaintext = os.urandom(1000)
    blob, info = encrypt_bytes(plaintext)
    upload = api.start_upload(blob, len(plaintext))
    uri = upload.entity["azureStorageUri"]
    assert api.put_block(uri, "MDAwMA==", blob[:500]).status_code == 201
    azurite_emu.expire_sas_now(upload.app_id)
    denied = api.put_block(uri, "MDAwMQ==", blob[500:])
    # Azure says AuthenticationFailed for an expired SAS; Azurite says AuthorizationFailure.
    assert denied.status_code == 403
    assert denied.headers["x-ms-error-code"] in ("AuthenticationFailed", "AuthorizationFailure")
    assert api.call("POST", f"{upload.file_path}/renewUpload", {}).status_code == 204
    new_uri = api.wait(upload.file_path, "azureStorageUriRenewalSuccess")["azureStorageUri"]
    assert api.put_block(uri, "MDAwMQ==", blob[500:]).status_code == 403  # old si revoked
    assert api.put_block(new_uri, "MDAwMQ==", blob[500:]).status_code == 201
    assert api.put_block_list(new_uri, ["MDAwMA==", "MDAwMQ=="]).status_code == 201
    assert api.commit(upload, info).status_code == 200
    api.wait(upload.file_path, "commitFileSuccess")


def test_azurite_commit_checks_still_apply(azurite_emu: Emulator, azurite_api: Api) -> None:
    api = azurite_api
    blob, info = encrypt_bytes(b"abc" * 100)
    upload = api.start_upload(blob, 299)  # wrong size
    ids = api.upload_blocks(upload.entity["azureStorageUri"], blob)
    assert api.put_block_list(upload.entity["azureStorageUri"], ids).status_code == 201
    assert api.commit(upload, info).status_code == 200
    for _ in range(100):
        state = api.ok("GET", upload.file_path)["uploadState"]
        if state != "commitFilePending":
            break
    assert state == "commitFileFailed"
