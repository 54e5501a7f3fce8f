"""The block uploader against a fake Azure Blob endpoint: order, retries, renewal, memory.

The fake stores each Put Block by ID and assembles the blob from the Put Block List, as
Azure does; every test then decrypts the assembled blob and compares it with the file.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pytest_httpx import HTTPXMock

from intune_step.artifacts.base import EncryptedContent, PlainContent
from intune_step.crypto import decrypt_blob, encrypt_bytes, encrypted_size
from intune_step.errors import UploadError
from intune_step.report import RecordingReporter
from intune_step.transport.http import make_client
from intune_step.transport.retry import RetryPolicy
from intune_step.upload.blob import (
    DEFAULT_BLOCK,
    MAX_BLOCK,
    MAX_BLOCKS,
    BlockSource,
    BlockUploader,
    BufferPool,
    MiB,
    block_id,
    choose_block_size,
    encrypt_and_digest,
)

BLOB = "https://acct.blob.core.windows.net/c/file.bin"
NO_SLEEP = RetryPolicy(attempts=4, sleep=lambda s: None, jitter=lambda lo, hi: hi)


class Target:
    """A SAS URI that a renewal replaces (new sig), as Intune's renewUpload does."""

    def __init__(self) -> None:
        self.sig = 1
        self.renewals = 0

    def uri(self) -> str:
        return f"{BLOB}?sv=2017-04-17&sr=b&si=p&sig={self.sig}"

    def renew(self) -> str:
        self.renewals += 1
        self.sig += 1
        return self.uri()


class FakeBlob:
    """Put Block / Put Block List semantics, plus fault switches and a concurrency gauge."""

    def __init__(self, target: Target, delay: float = 0.0) -> None:
        self.target = target
        self.delay = delay
        self.blocks: dict[str, bytes] = {}
        self.committed: bytes | None = None
        self.puts: list[str] = []  # block IDs in arrival order
        self.fail: dict[str, list[int]] = {}  # block ID -> statuses to answer first
        self.expire_after: int | None = None  # answer 403 to the old sig after this many PUTs
        self.active = 0
        self.max_active = 0
        self.headers: list[httpx.Headers] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._answer(request, query)
        finally:
            with self._lock:
                self.active -= 1

    def _answer(self, request: httpx.Request, query: dict[str, list[str]]) -> httpx.Response:
        sig = int(query["sig"][0])
        with self._lock:
            self.headers.append(request.headers)
            expired = self.expire_after is not None and len(self.puts) >= self.expire_after
        if sig != self.target.sig or (expired and sig == 1):
            return httpx.Response(403, headers={"x-ms-error-code": "AuthenticationFailed"})
        body = request.read()
        assert len(body) == int(request.headers["Content-Length"])
        assert "transfer-encoding" not in request.headers
        if query["comp"] == ["block"]:
            bid = query["blockid"][0]
            with self._lock:
                self.puts.append(bid)
                statuses = self.fail.get(bid)
                if statuses:
                    return httpx.Response(statuses.pop(0), headers={"x-ms-request-id": "r1"})
                self.blocks[bid] = body
            return httpx.Response(201)
        ids = re.findall(r"<Latest>([^<]+)</Latest>", body.decode())
        self.committed = b"".join(self.blocks[i] for i in ids)
        return httpx.Response(201)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with make_client() as client:
        yield client


def artifact(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / "app.ipa"
    path.write_bytes(data)
    return path, data


def serve(httpx_mock: HTTPXMock, fake: FakeBlob) -> None:
    httpx_mock.add_callback(fake, url=re.compile(re.escape(BLOB) + r"\?.*"), is_reusable=True)


# -- block sizes -------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 5 * MiB, 64 * MiB, 4 * 1024 * MiB, 30 * 1024 * MiB,
                                  390 * 1024 * MiB, 2 * 1024 * 1024 * MiB])
def test_block_size_suits_the_file(size: int) -> None:
    block = choose_block_size(size)
    assert block % 16 == 0 and MiB <= block <= MAX_BLOCK
    assert -(-size // block) <= MAX_BLOCKS or block == MAX_BLOCK
    if 256 * MiB <= size <= 30 * 1024 * MiB:
        assert block == DEFAULT_BLOCK  # the same block, so the same memory, 256 MiB to 30 GiB
    if size <= 16 * MiB:
        assert block == MiB  # a small file still spreads over the connections


def test_block_ids_keep_one_length() -> None:
    assert {len(block_id(i)) for i in (0, 1, 9_999, 10_000, 49_999)} == {12}
    assert base64.b64decode(block_id(7)) == b"00000007"


# -- the encrypt-and-digest pass ---------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 65_535, 65_536, 65_552, 3 * MiB + 5])
def test_pass_output_decrypts_to_the_file(tmp_path: Path, size: int) -> None:
    path, data = artifact(tmp_path, size)
    pool = BufferPool(1 << 30)
    uploader_blocks: list[bytes] = []
    source = BlockSource(PlainContent(path, size), 64 * 1024, pool)
    for block in source.blocks():
        uploader_blocks.append(bytes(block.data()))
        assert len(uploader_blocks[-1]) <= 64 * 1024 + 16
        block.lease.release()
    info, header, sha = source.result()
    assert header is not None
    blob = header + b"".join(uploader_blocks)
    assert len(blob) == encrypted_size(size)
    assert decrypt_blob(blob, info) == data
    assert sha == hashlib.sha256(data).hexdigest() == info.file_digest.hex()


def test_encrypt_and_digest_matches_the_reference_encryptor(tmp_path: Path) -> None:
    path, data = artifact(tmp_path, 2 * MiB + 3)
    result = encrypt_and_digest(PlainContent(path, len(data)), block_size=MiB)
    info = result.encryption_info
    reference, _ = encrypt_bytes(data, encryption_key=info.encryption_key,
                                 mac_key=info.mac_key, iv=info.initialization_vector)
    assert reference[:32] == info.mac  # same keys, same MAC: the same blob
    assert result.blocks == 1 + 3  # header + three blocks (the last one short)


# -- uploads -----------------------------------------------------------------------------
def test_upload_puts_every_block_then_the_list_header_first(
        tmp_path: Path, httpx_mock: HTTPXMock, http: httpx.Client) -> None:
    path, data = artifact(tmp_path, 700_000)
    target = Target()
    fake = FakeBlob(target)
    serve(httpx_mock, fake)
    reporter = RecordingReporter()
    uploader = BlockUploader(http, reporter, block_size=64 * 1024, in_flight=3, retry=NO_SLEEP)
    result = uploader.upload(PlainContent(path, len(data)), target, "app.ipa")

    assert fake.committed is not None
    assert decrypt_blob(fake.committed, result.encryption_info) == data
    assert result.file_sha256 == hashlib.sha256(data).hexdigest()
    assert result.blocks == len(fake.blocks) == 12  # 11 of 64 KiB + header
    assert fake.puts[-1] == block_id(0)  # the header is known last
    assert all("x-ms-blob-type" not in h for h in fake.headers)
    done = [d for _, d, _ in reporter.progress_events]
    assert done == sorted(done) and done[-1] == encrypted_size(len(data))


def test_blocks_go_up_in_parallel_but_never_more_than_in_flight(
        tmp_path: Path, httpx_mock: HTTPXMock, http: httpx.Client) -> None:
    path, data = artifact(tmp_path, 20 * 64 * 1024)
    target = Target()
    fake = FakeBlob(target, delay=0.05)
    serve(httpx_mock, fake)
    uploader = BlockUploader(http, RecordingReporter(), block_size=64 * 1024, in_flight=4,
                             retry=NO_SLEEP)
    result = uploader.upload(PlainContent(path, len(data)), target, "app.ipa")
    assert 2 <= fake.max_active <= 4
    assert decrypt_blob(fake.committed or b"", result.encryption_info) == data


def test_a_failed_block_is_retried_alone(
        tmp_path: Path, httpx_mock: HTTPXMock, http: httpx.Client) -> None:
    path, data = artifact(tmp_path, 5 * 64 * 1024)
    target = Target()
    fake = FakeBlob(target)
    fake.fail[block_id(3)] = [503, 500]
    serve(httpx_mock, fake)
    uploader = BlockUploader(http, RecordingReporter(), block_size=64 * 1024, in_flight=2,
                             retry=NO_SLEEP)
    result = uploader.upload(PlainContent(path, len(data)), target, "app.ipa")
    counts = {bid: fake.puts.count(bid) for bid in set(fake.puts)}
    assert counts.pop(block_id(3)) == 3
    assert set(counts.values()) == {1}  # every other block went up once
    assert decrypt_blob(fake.committed or b"", result.encryption_info) == data


def test_expired_sas_mid_upload_is_renewed_once_and_the_block_retried(
        tmp_path: Path, httpx_mock: HTTPXMock, http: httpx.Client) -> None:
    path, data = artifact(tmp_path, 8 * 64 * 1024)
    target = Target()
    fake = FakeBlob(target)
    fake.expire_after = 3
    serve(httpx_mock, fake)
    uploader = BlockUploader(http, RecordingReporter(), block_size=64 * 1024, in_flight=3,
                             retry=NO_SLEEP)
    result = uploader.upload(PlainContent(path, len(data)), target, "app.ipa")
    assert target.renewals == 1  # parallel blocks that all saw 403 renew only once
    assert decrypt_blob(fake.committed or b"", result.encryption_info) == data


def test_a_block_that_keeps_failing_stops_the_upload_and_frees_every_buffer(
        tmp_path: Path, httpx_mock: HTTPXMock, http: httpx.Client) -> None:
    path, data = artifact(tmp_path, 30 * 64 * 1024)
    target = Target()
    fake = FakeBlob(target)
    fake.fail[block_id(2)] = [400]
    serve(httpx_mock, fake)
    pool = BufferPool(4 * (64 * 1024 + 32))
    uploader = BlockUploader(http, RecordingReporter(), block_size=64 * 1024, in_flight=2,
                             retry=NO_SLEEP, pool=pool)
    with pytest.raises(UploadError, match="HTTP 400"):
        uploader.upload(PlainContent(path, len(data)), target, "app.ipa")
    assert fake.committed is None
    assert len(fake.puts) < 30  # it stopped reading instead of sending the rest
    # Every buffer came back: the next upload of this run gets the whole budget.
    assert sum(len(b) for b in pool._free) == pool.allocated
    fake.fail.clear()
    result = uploader.upload(PlainContent(path, len(data)), target, "app.ipa")
    assert decrypt_blob(fake.committed or b"", result.encryption_info) == data


def test_memory_stays_within_the_pool_for_a_file_many_times_larger(
        tmp_path: Path, httpx_mock: HTTPXMock, http: httpx.Client) -> None:
    path, data = artifact(tmp_path, 4 * MiB)
    target = Target()
    fake = FakeBlob(target, delay=0.002)
    serve(httpx_mock, fake)
    budget = 4 * (64 * 1024 + 32)  # 16 times smaller than the file
    pool = BufferPool(budget)
    uploader = BlockUploader(http, RecordingReporter(), block_size=64 * 1024, in_flight=2,
                             retry=NO_SLEEP, pool=pool)
    result = uploader.upload(PlainContent(path, len(data)), target, "app.ipa")
    assert pool.peak <= budget
    assert decrypt_blob(fake.committed or b"", result.encryption_info) == data


def test_two_uploads_at_once_share_one_budget(
        tmp_path: Path, httpx_mock: HTTPXMock, http: httpx.Client) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    path_a, data_a = artifact(tmp_path / "a", 40 * 64 * 1024)
    path_b, data_b = artifact(tmp_path / "b", 30 * 64 * 1024 + 7)
    target = Target()
    fake = FakeBlob(target, delay=0.002)
    serve(httpx_mock, fake)
    budget = 5 * (64 * 1024 + 32)
    pool = BufferPool(budget)
    uploader = BlockUploader(http, RecordingReporter(), block_size=64 * 1024, in_flight=3,
                             retry=NO_SLEEP, pool=pool)
    results = {}

    def go(name: str, path: Path, size: int) -> None:
        results[name] = uploader.upload(PlainContent(path, size), target, name)

    threads = [threading.Thread(target=go, args=("a", path_a, len(data_a))),
               threading.Thread(target=go, args=("b", path_b, len(data_b)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert pool.peak <= budget
    assert results["a"].file_sha256 == hashlib.sha256(data_a).hexdigest()
    assert results["b"].file_sha256 == hashlib.sha256(data_b).hexdigest()


def test_intunewin_payload_goes_up_unchanged(
        tmp_path: Path, httpx_mock: HTTPXMock, http: httpx.Client) -> None:
    payload, info = encrypt_bytes(os.urandom(300_000))
    outer = b"PK-before" * 1000 + payload + b"detection.xml" * 500
    path = tmp_path / "app.intunewin"
    path.write_bytes(outer)
    content = EncryptedContent(path, offset=9000, size_encrypted=len(payload), size=300_000,
                               encryption_info=info)
    target = Target()
    fake = FakeBlob(target)
    serve(httpx_mock, fake)
    uploader = BlockUploader(http, RecordingReporter(), block_size=64 * 1024, in_flight=3,
                             retry=NO_SLEEP)
    result = uploader.upload(content, target, "app.intunewin")
    assert fake.committed == payload  # no header block of ours: the payload has its own
    assert result.encryption_info is info
    assert result.file_sha256 == hashlib.sha256(outer).hexdigest()  # the file as given


def test_a_file_that_shrinks_while_read_fails_clearly(
        tmp_path: Path, httpx_mock: HTTPXMock, http: httpx.Client) -> None:
    path, data = artifact(tmp_path, 200_000)
    target = Target()
    serve(httpx_mock, FakeBlob(target))
    uploader = BlockUploader(http, RecordingReporter(), block_size=64 * 1024, retry=NO_SLEEP)
    with pytest.raises(UploadError, match="shrank"):
        uploader.upload(PlainContent(path, len(data) + 100), target, "app.ipa")


# -- the pool ----------------------------------------------------------------------------
def test_pool_reuses_buffers_and_waits_at_its_budget() -> None:
    pool = BufferPool(3 * 100)
    first, second, third = pool.take(100), pool.take(100), pool.take(100)
    got: list[bytearray] = []
    waiter = threading.Thread(target=lambda: got.append(pool.take(100)))
    waiter.start()
    waiter.join(0.1)
    assert waiter.is_alive() and not got  # over budget: it waits
    pool.give(second)
    waiter.join(5)
    assert got == [second] and got[0] is second  # reused, not allocated
    assert pool.allocated == pool.peak == 300
    for buffer in (first, third, got[0]):
        pool.give(buffer)
    big = pool.take(250)  # free buffers too small: they are dropped to make room
    assert len(big) == 250 and pool.allocated == 250
