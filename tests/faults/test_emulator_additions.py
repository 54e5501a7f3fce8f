"""The emulator's fault switches added for the fault matrix, each against raw HTTP calls."""

from __future__ import annotations

import pytest

from intune_step.crypto import encrypt_bytes
from intune_step.emulator import Emulator, Fault

from ..emulator.helpers import Api

APPS = "deviceAppManagement/mobileApps"


def test_expire_tokens_now_gives_401_until_a_new_sign_in(emu: Emulator, api: Api) -> None:
    assert api.call("GET", APPS).status_code == 200
    emu.expire_tokens_now()
    refused = api.call("GET", APPS)
    assert refused.status_code == 401
    assert "Lifetime validation failed" in refused.text
    api._token = None  # sign in again
    assert api.call("GET", APPS).status_code == 200


def test_fail_renewal_keeps_the_old_grant(emu: Emulator, api: Api) -> None:
    blob, _ = encrypt_bytes(b"r" * 100)
    upload = api.start_upload(blob, 100)
    uri = upload.entity["azureStorageUri"]
    emu.fail_renewal()
    assert api.call("POST", f"{upload.file_path}/renewUpload", {}).status_code == 204
    failed = api.ok("GET", upload.file_path)
    while failed["uploadState"] == "azureStorageUriRenewalPending":
        failed = api.ok("GET", upload.file_path)
    assert failed["uploadState"] == "azureStorageUriRenewalFailed"
    assert failed["azureStorageUri"] == uri  # still the old, still valid, URI
    assert api.put_block(uri, "MDAwMA==", blob).status_code == 201
    # A renewal after a failed one is allowed and succeeds.
    assert api.call("POST", f"{upload.file_path}/renewUpload", {}).status_code == 204
    assert api.wait(upload.file_path, "azureStorageUriRenewalSuccess")["azureStorageUri"] != uri


def test_fail_renewal_timed_out(emu: Emulator, api: Api) -> None:
    blob, _ = encrypt_bytes(b"t")
    upload = api.start_upload(blob, 1)
    emu.fail_renewal(timed_out=True)
    api.call("POST", f"{upload.file_path}/renewUpload", {})
    states = {api.ok("GET", upload.file_path)["uploadState"] for _ in range(3)}
    assert "azureStorageUriRenewalTimedOut" in states


@pytest.mark.parametrize("timed_out", [False, True])
def test_fail_next_commit_state(emu: Emulator, api: Api, timed_out: bool) -> None:
    plaintext = b"c" * 3000
    blob, info = encrypt_bytes(plaintext)
    upload = api.start_upload(blob, len(plaintext))
    uri = upload.entity["azureStorageUri"]
    assert api.put_block_list(uri, api.upload_blocks(uri, blob)).status_code == 201
    emu.fail_next_commit(timed_out=timed_out)
    assert api.commit(upload, info).status_code == 200
    want = "commitFileTimedOut" if timed_out else "commitFileFailed"
    entity = api.ok("GET", upload.file_path)
    while entity["uploadState"] == "commitFilePending":
        entity = api.ok("GET", upload.file_path)
    assert entity["uploadState"] == want
    # Committing again (as terraform does) succeeds: the upload itself was fine.
    assert api.commit(upload, info).status_code == 200
    assert api.wait(upload.file_path, "commitFileSuccess")["isCommitted"] is True


def test_fault_action_and_passthrough(emu: Emulator, api: Api) -> None:
    """An action fires at an exact request; passthrough still serves that request."""
    calls: list[int] = []
    emu.faults.add(Fault("graph", "GET", r"/mobileApps$", after=1, passthrough=True,
                         action=lambda: calls.append(1)))
    assert [api.call("GET", APPS).status_code for _ in range(3)] == [200, 200, 200]
    assert calls == [1]


def test_fault_action_expires_the_sas_mid_upload(emu: Emulator, api: Api) -> None:
    blob, _ = encrypt_bytes(b"s" * 3000)
    upload = api.start_upload(blob, 3000)
    uri = upload.entity["azureStorageUri"]
    emu.faults.add(Fault("blob", "PUT", r"comp=block&", after=1, passthrough=True,
                         action=emu.expire_sas_now))
    assert api.put_block(uri, "MDAwMA==", blob[:1000]).status_code == 201
    expired = api.put_block(uri, "MDAwMQ==", blob[1000:2000])
    assert expired.status_code == 403
    assert expired.headers["x-ms-error-code"] == "AuthenticationFailed"
