"""Commit checks (docs/protocol.md, "Commit checks"): every mismatch ends commitFileFailed,
never an HTTP error."""

from __future__ import annotations

import base64
import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from intune_step.crypto import FileEncryptionInfo, encrypt_bytes
from intune_step.emulator import Emulator

from .helpers import Api, lob_body

PLAIN = os.urandom(4000)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


def _with(info: FileEncryptionInfo, **changes: Any) -> FileEncryptionInfo:
    return dataclasses.replace(info, **changes)


# name → what to change: the uploaded blob, the committed info, size or sizeEncrypted.
CASES: dict[str, Callable[[bytes, FileEncryptionInfo], dict[str, Any]]] = {
    "bad-mac-in-info": lambda b, i: {"info": _with(i, mac=_flip(i.mac, 0))},
    "tampered-ciphertext": lambda b, i: {"blob": _flip(b, 100)},
    "tampered-header-mac": lambda b, i: {"blob": _flip(b, 0)},
    "bad-iv": lambda b, i: {"info": _with(i, initialization_vector=bytes(16))},
    "wrong-size": lambda b, i: {"size": len(PLAIN) - 1},
    "wrong-size-encrypted": lambda b, i: {"size_encrypted": len(b) + 16},
    "wrong-digest": lambda b, i: {"info": _with(i, file_digest=bytes(32))},
    "wrong-key": lambda b, i: {"info": _with(i, encryption_key=os.urandom(32))},
    "short-mac-key": lambda b, i: {"info": _with(i, mac_key=b"k" * 16)},
    "profile": lambda b, i: {"info": _with(i, profile_identifier="ProfileVersion2")},
    "algorithm": lambda b, i: {"info": _with(i, file_digest_algorithm="MD5")},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_mismatch_ends_commit_file_failed(emu: Emulator, api: Api, name: str) -> None:
    blob, info = encrypt_bytes(PLAIN)
    case = {"blob": blob, "info": info, "size": len(PLAIN), "size_encrypted": None}
    case.update(CASES[name](blob, info))
    upload = api.start_upload(case["blob"], case["size"], size_encrypted=case["size_encrypted"])
    uri = upload.entity["azureStorageUri"]
    ids = api.upload_blocks(uri, case["blob"], 1024)
    assert api.put_block_list(uri, ids).status_code == 201
    response = api.commit(upload, case["info"])
    assert response.status_code == 200 and response.content == b""
    final = _wait_commit(api, upload.file_path)
    assert final["uploadState"] == "commitFileFailed" and final["isCommitted"] is False
    assert emu.files(upload.app_id)[0]["failureReason"]
    # and the app cannot point at it
    patch = api.call(
        "PATCH",
        f"deviceAppManagement/mobileApps/{upload.app_id}",
        {"@odata.type": "#microsoft.graph.iosLobApp", "committedContentVersion": "1"},
    )
    assert patch.status_code == 400


def _wait_commit(api: Api, path: str) -> dict:
    for _ in range(100):
        entity = api.ok("GET", path)
        if entity["uploadState"] != "commitFilePending":
            return entity
    raise AssertionError("commit never finished")


def test_missing_block_list_fails(emu: Emulator, api: Api) -> None:
    blob, info = encrypt_bytes(PLAIN)
    upload = api.start_upload(blob, len(PLAIN))
    api.upload_blocks(upload.entity["azureStorageUri"], blob)
    assert api.commit(upload, info).status_code == 200
    assert _wait_commit(api, upload.file_path)["uploadState"] == "commitFileFailed"
    assert "Put Block List" in emu.files(upload.app_id)[0]["failureReason"]


def test_missing_block_in_list_fails(emu: Emulator, api: Api) -> None:
    blob, info = encrypt_bytes(PLAIN)
    upload = api.start_upload(blob, len(PLAIN))
    ids = api.upload_blocks(upload.entity["azureStorageUri"], blob)
    assert api.put_block_list(upload.entity["azureStorageUri"], ids[:-1]).status_code == 201
    assert api.commit(upload, info).status_code == 200
    assert _wait_commit(api, upload.file_path)["uploadState"] == "commitFileFailed"


def test_single_put_blob_fails_like_set_azstorageblobcontent(emu: Emulator, api: Api) -> None:
    blob, info = encrypt_bytes(PLAIN)
    upload = api.start_upload(blob, len(PLAIN))
    response = api.http.put(
        upload.entity["azureStorageUri"], content=blob, headers={"x-ms-blob-type": "BlockBlob"}
    )
    assert response.status_code == 201
    assert api.commit(upload, info).status_code == 200
    assert _wait_commit(api, upload.file_path)["uploadState"] == "commitFileFailed"


def test_retry_commit_after_failure_and_fail_next_commit(emu: Emulator, api: Api) -> None:
    blob, info = encrypt_bytes(PLAIN)
    upload = api.start_upload(blob, len(PLAIN))
    ids = api.upload_blocks(upload.entity["azureStorageUri"], blob)
    assert api.put_block_list(upload.entity["azureStorageUri"], ids).status_code == 201
    emu.fail_next_commit()
    assert api.commit(upload, info).status_code == 200
    assert _wait_commit(api, upload.file_path)["uploadState"] == "commitFileFailed"
    assert api.commit(upload, info).status_code == 200  # terraform re-POSTs the commit
    assert _wait_commit(api, upload.file_path)["uploadState"] == "commitFileSuccess"
    again = api.commit(upload, info)
    assert again.status_code == 400  # already committed


def test_commit_body_must_be_readable(emu: Emulator, api: Api) -> None:
    blob, info = encrypt_bytes(PLAIN)
    upload = api.start_upload(blob, len(PLAIN))
    bad = {**info.to_graph(), "mac": "***not base64***"}
    assert api.commit(upload, bad).status_code == 400
    assert api.call("POST", f"{upload.file_path}/commit", {}).status_code == 400
    assert api.ok("GET", upload.file_path)["uploadState"] == "azureStorageUriRequestSuccess"


@pytest.mark.emu(commit_status=204, assign_status=204, patch_status=200, commit_pending_polls=3)
def test_documented_status_codes_mode(emu: Emulator, api: Api) -> None:
    blob, info = encrypt_bytes(PLAIN)
    upload = api.start_upload(blob, len(PLAIN))
    ids = api.upload_blocks(upload.entity["azureStorageUri"], blob)
    api.put_block_list(upload.entity["azureStorageUri"], ids)
    assert api.commit(upload, info).status_code == 204
    states = [api.ok("GET", upload.file_path)["uploadState"] for _ in range(3)]
    assert states == ["commitFilePending"] * 3
    assert _wait_commit(api, upload.file_path)["uploadState"] == "commitFileSuccess"
    patched = api.call(
        "PATCH",
        f"deviceAppManagement/mobileApps/{upload.app_id}",
        {"@odata.type": "#microsoft.graph.iosLobApp", "committedContentVersion": "1"},
    )
    assert patched.status_code == 200 and patched.json()["publishingState"] == "processing"


@pytest.mark.emu(patch_cooldown_s=0.3)
def test_patch_cooldown_after_commit(emu: Emulator, api: Api) -> None:
    blob, info = encrypt_bytes(PLAIN)
    upload = api.start_upload(blob, len(PLAIN))
    ids = api.upload_blocks(upload.entity["azureStorageUri"], blob)
    api.put_block_list(upload.entity["azureStorageUri"], ids)
    api.commit(upload, info)
    api.wait(upload.file_path, "commitFileSuccess")
    body = {"@odata.type": "#microsoft.graph.iosLobApp", "committedContentVersion": "1"}
    path = f"deviceAppManagement/mobileApps/{upload.app_id}"
    early = api.call("PATCH", path, body)
    assert early.status_code == 400 and "An error has occurred" in early.text
    time.sleep(0.35)
    assert api.call("PATCH", path, body).status_code == 204


def test_second_content_version_updates_the_app(emu: Emulator, api: Api) -> None:
    first = api.full_upload(b"version one")
    blob, info = encrypt_bytes(b"version two!")
    second = api.start_upload(blob, 12, app_id=first.app_id)
    assert second.version_id == "2"
    ids = api.upload_blocks(second.entity["azureStorageUri"], blob)
    api.put_block_list(second.entity["azureStorageUri"], ids)
    api.commit(second, info)
    api.wait(second.file_path, "commitFileSuccess")
    api.publish(second)
    assert emu.committed_content(first.app_id) == b"version two!"
    assert emu.app(first.app_id)["committedContentVersion"] == "2"


def test_lenient_and_strict_casts(emu: Emulator, api: Api) -> None:
    app = api.create_app()
    base = f"deviceAppManagement/mobileApps/{app['id']}"
    # intune-uploader style: a sibling LOB cast on content sub-resources is tolerated...
    assert (
        api.call("POST", f"{base}/microsoft.graph.macOSLobApp/contentVersions", {}).status_code
        == 201
    )
    assert (
        api.call("POST", f"{base}/microsoft.graph.mobileLobApp/contentVersions", {}).status_code
        == 201
    )
    assert api.call("POST", f"{base}/contentVersions", {}).status_code == 201
    assert (
        api.call("POST", f"{base}/microsoft.graph.nopeApp/contentVersions", {}).status_code == 400
    )


@pytest.mark.emu(strict_casts=True)
def test_strict_casts(emu: Emulator, api: Api) -> None:
    app = api.create_app()
    base = f"deviceAppManagement/mobileApps/{app['id']}"
    assert (
        api.call("POST", f"{base}/microsoft.graph.macOSLobApp/contentVersions", {}).status_code
        == 400
    )
    assert (
        api.call("POST", f"{base}/microsoft.graph.IOSLOBAPP/contentVersions", {}).status_code == 201
    )


def test_file_body_rules(emu: Emulator, api: Api) -> None:
    app = api.create_app()
    files = f"deviceAppManagement/mobileApps/{app['id']}/microsoft.graph.iosLobApp/contentVersions"
    version = api.ok("POST", files, {}, 201)["id"]
    files = f"{files}/{version}/files"
    good = {"name": "a.ipa", "sizeInBytes": 10, "sizeEncryptedInBytes": 64, "manifest": None}
    assert api.call("POST", files, good).status_code == 201
    assert api.call("POST", files, {**good, "manifest": "%%%"}).status_code == 400
    assert (
        api.call(
            "POST", files, {**good, "manifest": base64.b64encode(b"<plist/>").decode()}
        ).status_code
        == 201
    )
    assert (
        api.call("POST", files, {"name": "a.ipa", "size": "10", "sizeEncrypted": 64}).status_code
        == 400
    )


def test_appx_file_needs_manifest(emu: Emulator, api: Api) -> None:
    app = api.create_app(lob_body("windowsUniversalAppX"))
    base = f"deviceAppManagement/mobileApps/{app['id']}/microsoft.graph.windowsUniversalAppX"
    version = api.ok("POST", f"{base}/contentVersions", {}, 201)["id"]
    body = {"name": "x.msix", "size": 1, "sizeEncrypted": 64, "manifest": None}
    assert api.call("POST", f"{base}/contentVersions/{version}/files", body).status_code == 400


@pytest.mark.emu(max_file_size=1000)
def test_max_file_size(emu: Emulator, api: Api) -> None:
    app = api.create_app()
    base = f"deviceAppManagement/mobileApps/{app['id']}/microsoft.graph.iosLobApp/contentVersions"
    version = api.ok("POST", base, {}, 201)["id"]
    body = {"name": "a.ipa", "size": 1001, "sizeEncrypted": 1072}
    assert api.call("POST", f"{base}/{version}/files", body).status_code == 400
