"""Content files, commits and blobs: what Graph's models and Azure Storage refuse, and what a
commit makes final (docs/protocol.md, "Content file and manifest", "Upload URL", "Commit")."""

from __future__ import annotations

import base64

from intune_step.crypto import encrypt_bytes
from intune_step.emulator import Emulator

from .helpers import Api

FILE = {
    "@odata.type": "#microsoft.graph.mobileAppContentFile",
    "name": "FieldService.ipa",
    "size": 10,
    "sizeEncrypted": 64,
    "manifest": None,
    "isDependency": False,
}


def _version(api: Api) -> str:
    app_id = api.create_app()["id"]
    base = f"deviceAppManagement/mobileApps/{app_id}/microsoft.graph.iosLobApp/contentVersions"
    return f"{base}/{api.ok('POST', base, {}, 201)['id']}"


def test_an_unknown_content_file_property_is_refused(emu: Emulator, api: Api) -> None:
    """mobileAppContentFile's properties
    (https://learn.microsoft.com/graph/api/resources/intune-apps-mobileappcontentfile): a
    name it does not have is refused like any other type's (ModelValidationFailure)."""
    files = f"{_version(api)}/files"
    response = api.call("POST", files, {**FILE, "sha256": "00"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ModelValidationFailure"
    assert "'sha256' does not exist on type" in response.text
    wrong_type = {**FILE, "@odata.type": "#microsoft.graph.mobileAppContent"}
    assert api.call("POST", files, wrong_type).status_code == 400
    assert api.call("POST", files, FILE).status_code == 201


def test_size_and_size_in_bytes_must_agree(emu: Emulator, api: Api) -> None:
    """The docs list sizeInBytes/sizeEncryptedInBytes as the 64-bit names of size and
    sizeEncrypted (https://learn.microsoft.com/graph/api/resources/intune-apps-mobileappcontentfile):
    one file has one size, so two different values are refused."""
    files = f"{_version(api)}/files"
    for extra in ({"sizeInBytes": 11}, {"sizeEncryptedInBytes": 65}):
        response = api.call("POST", files, {**FILE, **extra})
        assert response.status_code == 400, extra
        assert "must be equal" in response.text
    same = {**FILE, "sizeInBytes": 10, "sizeEncryptedInBytes": 64}
    assert api.call("POST", files, same).status_code == 201


def test_commit_takes_only_file_encryption_info(emu: Emulator, api: Api) -> None:
    """The commit action has one parameter, fileEncryptionInfo, and fileEncryptionInfo its
    documented properties (https://learn.microsoft.com/graph/api/intune-apps-mobileappcontentfile-commit,
    https://learn.microsoft.com/graph/api/resources/intune-apps-fileencryptioninfo)."""
    blob, info = encrypt_bytes(b"payload")
    upload = api.start_upload(blob, 7)
    ids = api.upload_blocks(upload.entity["azureStorageUri"], blob)
    assert api.put_block_list(upload.entity["azureStorageUri"], ids).status_code == 201
    extra_field = api.commit(upload, {**info.to_graph(), "keyId": "k1"})
    assert extra_field.status_code == 400 and "'keyId' does not exist" in extra_field.text
    extra_param = api.call(
        "POST", f"{upload.file_path}/commit", {"fileEncryptionInfo": info.to_graph(), "x": 1}
    )
    assert extra_param.status_code == 400 and "'x'" in extra_param.text
    assert api.ok("GET", upload.file_path)["uploadState"] == "azureStorageUriRequestSuccess"
    assert api.commit(upload, info).status_code == 200


def test_the_committed_version_takes_no_new_file(emu: Emulator, api: Api) -> None:
    """Once the app's committedContentVersion names it, a content version is what devices
    install; a new upload goes to a new version (https://learn.microsoft.com/graph/api/resources/intune-apps-mobileappcontent)."""
    upload = api.full_upload(b"first build")
    base = upload.file_path.rsplit("/files/", 1)[0]
    response = api.call("POST", f"{base}/files", FILE)
    assert response.status_code == 400 and "committed content version" in response.text
    assert api.call("DELETE", upload.file_path).status_code == 400
    assert len(api.ok("GET", f"{base}/files")["value"]) == 1
    assert emu.committed_content(upload.app_id) == b"first build"


def test_a_committed_blob_takes_no_write(emu: Emulator, api: Api) -> None:
    """After commitFileSuccess the blob is the file Intune verified: its upload URL no longer
    writes (403 AuthenticationFailed, https://learn.microsoft.com/rest/api/storageservices/common-rest-api-error-codes),
    neither a block nor a new block list, so the committed bytes cannot change."""
    upload = api.full_upload(b"committed bytes " * 80)
    uri = upload.entity["azureStorageUri"]
    block = base64.b64encode(b"0000").decode()
    written = api.put_block(uri, block, b"tampered")
    assert written.status_code == 403, written.text
    assert written.headers["x-ms-error-code"] == "AuthenticationFailed"
    assert api.put_block_list(uri, [block]).status_code == 403
    assert emu.committed_content(upload.app_id) == b"committed bytes " * 80


def test_a_blob_request_with_a_bearer_token_is_refused(emu: Emulator, api: Api) -> None:
    """The upload URL's SAS is its whole authorisation. A request that also carries an
    Authorization header (here the Graph token) is malformed: 400 InvalidAuthenticationInfo
    "Authentication information is not given in the correct format"
    (https://learn.microsoft.com/rest/api/storageservices/common-rest-api-error-codes), and
    the token must never leave for the storage host anyway."""
    blob, _ = encrypt_bytes(b"payload")
    upload = api.start_upload(blob, 7)
    uri = upload.entity["azureStorageUri"]
    response = api.http.put(
        f"{uri}&comp=block&blockid={base64.b64encode(b'0000').decode()}",
        content=blob,
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code == 400
    assert response.headers["x-ms-error-code"] == "InvalidAuthenticationInfo"
    assert api.put_block(uri, base64.b64encode(b"0000").decode(), blob).status_code == 201


def test_an_empty_block_is_refused(emu: Emulator, api: Api) -> None:
    """Put Block stages a block of content (https://learn.microsoft.com/rest/api/storageservices/put-block);
    a zero-length block is refused by Azure (Azure/Azurite#329: "upload a block with zero bytes
    should fail"), as 400 InvalidHeaderValue naming Content-Length."""
    blob, _ = encrypt_bytes(b"payload")
    upload = api.start_upload(blob, 7)
    response = api.put_block(upload.entity["azureStorageUri"], "MDAwMA==", b"")
    assert response.status_code == 400
    assert response.headers["x-ms-error-code"] == "InvalidHeaderValue"
    assert "<HeaderName>Content-Length</HeaderName>" in response.text
