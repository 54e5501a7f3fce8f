"""Azure Blob semantics: block IDs, block lists, SAS checks, renewal, limits, parallel PUTs."""

from __future__ import annotations

import base64
import concurrent.futures
import os
import socket
import ssl
import time
from urllib.parse import urlsplit

import httpx
import pytest

from intune_step.crypto import encrypt_bytes
from intune_step.emulator import Emulator

from .helpers import Api


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _blob_error(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/xml"
    code = response.headers["x-ms-error-code"]
    assert f"<Code>{code}</Code>" in response.text
    assert response.headers["x-ms-request-id"]
    return code


def test_upload_uri_shape(emu: Emulator, api: Api) -> None:
    blob, _ = encrypt_bytes(b"x")
    upload = api.start_upload(blob, 1)
    uri = upload.entity["azureStorageUri"]
    parts = urlsplit(uri)
    assert f"{parts.scheme}://{parts.netloc}" == emu.blob_url
    container, _, name = parts.path.strip("/").split("/")
    assert name.endswith(".bin") and len(container) == 36
    query = dict(p.split("=", 1) for p in parts.query.split("&"))
    assert set(query) == {"sv", "sr", "si", "sig"} and query["sv"] == "2017-04-17"
    assert upload.entity["azureStorageUriExpirationDateTime"].endswith("Z")


def test_block_id_rules(emu: Emulator, api: Api) -> None:
    blob, info = encrypt_bytes(os.urandom(100))
    upload = api.start_upload(blob, 100)
    uri = upload.entity["azureStorageUri"]
    # Raw '=' and %3D are the same ID.
    assert api.put_block(uri, "MDAwMA==", blob[:64]).status_code == 201
    assert api.put_block(uri, "MDAwMQ%3D%3D", blob[64:]).status_code == 201
    assert _blob_error(api.put_block(uri, _b64("0000000"), b"x")) == "InvalidBlobOrBlock"
    assert _blob_error(api.put_block(uri, "not*base64", b"x")) == "InvalidQueryParameterValue"
    assert _blob_error(api.put_block(uri, _b64("x" * 65)[:88], b"x")) in (
        "InvalidQueryParameterValue",
        "InvalidBlobOrBlock",
    )
    # Unknown ID in the list → InvalidBlockList; a list without a declaration is fine.
    assert _blob_error(api.put_block_list(uri, ["MDAwMA==", "OTk5OQ=="])) == "InvalidBlockList"
    assert api.put_block_list(uri, ["MDAwMA==", "MDAwMQ=="], declaration=False).status_code == 201
    assert api.commit(upload, info).status_code == 200
    assert api.wait(upload.file_path, "commitFileSuccess")["isCommitted"] is True


def test_missing_content_length_and_oversized_block(emu: Emulator, api: Api) -> None:
    blob, _ = encrypt_bytes(b"x")
    uri = api.start_upload(blob, 1).entity["azureStorageUri"]

    def chunks():  # a generator body makes httpx send Transfer-Encoding: chunked
        yield b"abc"

    chunked = api.http.put(f"{uri}&comp=block&blockid=MDAwMA==", content=chunks())
    assert chunked.status_code == 411 and _blob_error(chunked) == "MissingContentLengthHeader"

    # Announce 101 MiB and send nothing: the answer comes before the body.
    parts = urlsplit(uri)
    context = ssl.create_default_context(cafile=str(emu.ca_path))
    with (
        socket.create_connection((parts.hostname, parts.port)) as raw,
        context.wrap_socket(raw, server_hostname=parts.hostname) as tls,
    ):
        tls.sendall(
            f"PUT {parts.path}?{parts.query}&comp=block&blockid=MDAwMA== HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\nContent-Length: {101 * 1024 * 1024}\r\n\r\n".encode()
        )
        head = tls.recv(4096).decode()
    assert head.startswith("HTTP/1.1 413") and "RequestBodyTooLarge" in head


def test_expired_sas_is_403_until_renewed(emu: Emulator, api: Api) -> None:
    plaintext = os.urandom(3000)
    blob, info = encrypt_bytes(plaintext)
    upload = api.start_upload(blob, len(plaintext))
    old_uri = upload.entity["azureStorageUri"]
    assert api.put_block(old_uri, "MDAwMA==", blob[:1000]).status_code == 201

    emu.expire_sas_now()
    denied = api.put_block(old_uri, "MDAwMQ==", blob[1000:2000])
    assert denied.status_code == 403 and _blob_error(denied) == "AuthenticationFailed"
    assert "<AuthenticationErrorDetail>Signature not valid in the specified time frame" in (
        denied.text
    )

    renew = api.call("POST", f"{upload.file_path}/renewUpload", {})
    assert renew.status_code == 204 and renew.content == b""
    assert api.ok("GET", upload.file_path)["uploadState"] == "azureStorageUriRenewalPending"
    renewed = api.wait(upload.file_path, "azureStorageUriRenewalSuccess")
    new_uri = renewed["azureStorageUri"]
    assert new_uri != old_uri  # a new sig; the old one no longer works
    assert (
        renewed["azureStorageUriExpirationDateTime"]
        > upload.entity["azureStorageUriExpirationDateTime"][:10]
    )
    assert _blob_error(api.put_block(old_uri, "MDAwMQ==", blob[1000:2000])) == (
        "AuthenticationFailed"
    )
    # Blocks staged before the renewal are still there.
    assert api.put_block(new_uri, "MDAwMQ==", blob[1000:2000]).status_code == 201
    assert api.put_block(new_uri, "MDAwMg==", blob[2000:]).status_code == 201
    assert api.put_block_list(new_uri, ["MDAwMA==", "MDAwMQ==", "MDAwMg=="]).status_code == 201
    assert api.commit(upload, info).status_code == 200
    api.wait(upload.file_path, "commitFileSuccess")
    api.publish(upload)
    assert emu.committed_content(upload.app_id) == plaintext


@pytest.mark.emu(renew_rotates_sig=False)
def test_renewal_can_keep_the_sig(emu: Emulator, api: Api) -> None:
    blob, _ = encrypt_bytes(b"abc")
    upload = api.start_upload(blob, 3)
    emu.expire_sas_now()
    assert api.call("POST", f"{upload.file_path}/renewUpload").status_code == 204  # empty body
    renewed = api.wait(upload.file_path, "azureStorageUriRenewalSuccess")
    assert renewed["azureStorageUri"] == upload.entity["azureStorageUri"]
    assert api.put_block(renewed["azureStorageUri"], "MDAwMA==", blob).status_code == 201


@pytest.mark.emu(sas_lifetime_s=1)
def test_sas_lifetime_runs_out(emu: Emulator, api: Api) -> None:
    blob, _ = encrypt_bytes(b"abc")
    uri = api.start_upload(blob, 3).entity["azureStorageUri"]
    assert api.put_block(uri, "MDAwMA==", blob).status_code == 201
    time.sleep(1.05)
    assert api.put_block(uri, "MDAwMA==", blob).status_code == 403


def test_tampered_sig_is_403(emu: Emulator, api: Api) -> None:
    blob, _ = encrypt_bytes(b"abc")
    uri = api.start_upload(blob, 3).entity["azureStorageUri"]
    bad = uri.replace("sig=", "sig=A")
    assert _blob_error(api.put_block(bad, "MDAwMA==", blob)) == "AuthenticationFailed"


def test_parallel_blocks_on_many_connections(emu: Emulator, api: Api) -> None:
    plaintext = os.urandom(3 * 1024 * 1024 + 5)
    blob, info = encrypt_bytes(plaintext)
    upload = api.start_upload(blob, len(plaintext))
    uri = upload.entity["azureStorageUri"]
    size = 256 * 1024
    offsets = list(range(0, len(blob), size))
    ids = [_b64(f"{i:06d}") for i in range(len(offsets))]

    def put(index: int) -> int:
        with httpx.Client(verify=emu.ssl_context()) as client:
            data = blob[offsets[index] : offsets[index] + size]
            url = f"{uri}&comp=block&blockid={ids[index]}"
            return client.put(url, content=data).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(put, range(len(ids)))) == {201}
    assert api.put_block_list(uri, ids).status_code == 201
    assert api.commit(upload, info).status_code == 200
    api.wait(upload.file_path, "commitFileSuccess")
    api.publish(upload)
    assert emu.committed_content(upload.app_id) == plaintext
    puts = [r for r in emu.request_log if r.service == "blob" and r.method == "PUT"]
    assert len(puts) == len(ids) + 1


@pytest.mark.emu(blob_bandwidth_bps=1_000_000, blob_latency_s=0.05)
def test_simulated_network_is_slow(emu: Emulator, api: Api) -> None:
    blob, _ = encrypt_bytes(os.urandom(200_000))
    uri = api.start_upload(blob, 200_000).entity["azureStorageUri"]
    started = time.monotonic()
    assert api.put_block(uri, "MDAw", blob).status_code == 201
    assert time.monotonic() - started >= 0.2
