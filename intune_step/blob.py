"""Upload a content file to Azure Blob storage in one streaming pass.

The file is read once: each chunk is hashed, encrypted (unless the artifact is already
encrypted, as a .intunewin payload is) and sent as a block while later chunks are still being
read. Blocks go up in parallel, at most ``in_flight`` at a time, so memory stays at about
``block_size * (in_flight + 1)`` whatever the file size. The ProfileVersion1 header
(mac ‖ iv) is known only at the end; it goes up last as its own block and is listed first in
the block list, which is all Azure needs to assemble the blob in order.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Protocol

import httpx

from intune_step.artifacts.base import Content, EncryptedContent
from intune_step.crypto import FileEncryptionInfo, StreamEncryptor
from intune_step.errors import UploadError
from intune_step.events import Reporter
from intune_step.retry import RetryPolicy

MiB = 1024 * 1024
READ_SIZE = MiB


class UploadTarget(Protocol):
    """Where blocks go: the SAS URI, renewed through Graph when it nears expiry."""

    def uri(self) -> str:
        """The current SAS URI (renewing it first if it is about to expire)."""

    def renew(self) -> str:
        """Force a renewal (after Azure answered 403) and return the new URI."""


@dataclass(frozen=True)
class UploadResult:
    encryption_info: FileEncryptionInfo
    file_sha256: str  # hex SHA-256 of the artifact file as given
    blocks: int


def choose_block_size(encrypted_size: int) -> int:
    """8 MiB blocks; bigger only when 50,000 blocks would not cover the file."""
    size = 8 * MiB
    while encrypted_size / size > 49_000:
        size *= 2
    return min(size, 100 * MiB)


def block_id(index: int) -> str:
    """Fixed-width IDs: Azure refuses a blob whose block IDs differ in length."""
    return base64.b64encode(f"{index:08d}".encode()).decode()


class BlockUploader:
    def __init__(
        self,
        http: httpx.Client,
        reporter: Reporter,
        *,
        block_size: int | None = None,
        in_flight: int = 6,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._http = http
        self._reporter = reporter
        self._block_size = block_size
        self._in_flight = max(1, in_flight)
        self._retry = retry or RetryPolicy(attempts=6, base_delay=1.0, max_delay=30.0)
        self._renew_lock = threading.Lock()

    # -- one block ------------------------------------------------------------------------
    def _put(self, target: UploadTarget, query: str, data: bytes, content_type: str) -> None:
        attempt = 0
        renewed_for: str | None = None
        while True:
            attempt += 1
            uri = target.uri()
            try:
                response = self._http.put(
                    f"{uri}&{query}",
                    content=data,
                    # No x-ms-blob-type: it is a Put Blob header, and Azurite takes a block
                    # list sent with it for a Put Blob of the XML itself.
                    headers={"Content-Type": content_type},
                )
            except httpx.TransportError as exc:
                if attempt >= self._retry.attempts:
                    raise UploadError(
                        f"blob upload failed: {type(exc).__name__} after {attempt} attempts",
                        fix="check network access to Azure Storage (*.blob.core.windows.net); "
                        "re-run the step",
                    ) from exc
                self._retry.sleep(self._retry.backoff(attempt))
                continue
            if response.status_code == 201:
                return
            error_code = response.headers.get("x-ms-error-code", "")
            if response.status_code == 403 and renewed_for != uri:
                # The SAS expired or was replaced: renew once per URI, then retry this block.
                with self._renew_lock:
                    if target.uri() == uri:
                        target.renew()
                renewed_for = uri
                continue
            if response.status_code in (408, 429, 500, 502, 503, 504) and (
                attempt < self._retry.attempts
            ):
                self._retry.sleep(self._retry.delay_for(attempt, response))
                continue
            raise UploadError(
                f"blob upload failed: HTTP {response.status_code} {error_code}".strip()
                + f" (request-id {response.headers.get('x-ms-request-id', '-')})",
                fix="re-run the step; if it persists, check the network path to Azure Storage",
            )

    # -- the stream -----------------------------------------------------------------------
    def upload(
        self,
        content: Content,
        target: UploadTarget,
        label: str,
        read_hook: Callable[[int], None] | None = None,
    ) -> UploadResult:
        """Stream ``content`` to ``target``; returns the keys to commit and the file digest."""
        total = content.size_encrypted
        block_size = self._block_size or choose_block_size(total)
        encryptor = None if isinstance(content, EncryptedContent) else StreamEncryptor()
        file_digest = hashlib.sha256()
        done = 0
        done_lock = threading.Lock()
        ids: list[str] = []

        def send(index: int, data: bytes) -> None:
            nonlocal done
            self._put(target, f"comp=block&blockid={block_id(index)}", data,
                      "application/octet-stream")
            with done_lock:
                done += len(data)
                self._reporter.progress(label, done, total)

        pending: set[Future[None]] = set()
        self._reporter.progress(label, 0, total)
        with ThreadPoolExecutor(max_workers=self._in_flight, thread_name_prefix="block") as pool:
            def submit(data: bytes) -> None:
                nonlocal pending
                # Bound memory: wait for a slot before reading further.
                while len(pending) >= self._in_flight:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        future.result()
                index = len(ids) + 1  # 0 is the header's
                ids.append(block_id(index))
                pending.add(pool.submit(send, index, data))

            try:
                buffer = bytearray()
                for chunk in _payload_chunks(content, file_digest, read_hook):
                    buffer += encryptor.update(chunk) if encryptor else chunk
                    while len(buffer) >= block_size:
                        submit(bytes(buffer[:block_size]))
                        del buffer[:block_size]
                if encryptor:
                    buffer += encryptor.finalize()
                if buffer:
                    submit(bytes(buffer))
                for future in pending:
                    future.result()
            except BaseException:
                for future in pending:
                    future.cancel()
                raise

        if encryptor:
            send(0, encryptor.header())
            info = encryptor.info()
            block_list = [block_id(0), *ids]
        else:
            assert isinstance(content, EncryptedContent)
            info = content.encryption_info
            block_list = ids
        body = "".join(f"<Latest>{i}</Latest>" for i in block_list)
        xml = f'<?xml version="1.0" encoding="utf-8"?><BlockList>{body}</BlockList>'
        self._put(target, "comp=blocklist", xml.encode(), "application/xml")
        return UploadResult(info, file_digest.hexdigest(), len(block_list))


def _payload_chunks(
    content: Content, file_digest: hashlib._Hash, read_hook: Callable[[int], None] | None
) -> Iterator[bytes]:
    """Read the artifact once, hashing all of it and yielding the bytes to upload.

    For a .intunewin the upload is the stored inner payload, a window of the outer file.
    """
    start = content.offset if isinstance(content, EncryptedContent) else 0
    end = start + (content.size_encrypted if isinstance(content, EncryptedContent)
                   else content.size)
    position = 0
    with content.path.open("rb") as handle:
        while chunk := handle.read(READ_SIZE):
            file_digest.update(chunk)
            if read_hook:
                read_hook(len(chunk))
            lo, hi = max(start, position), min(end, position + len(chunk))
            if lo < hi:
                yield chunk[lo - position: hi - position]
            position += len(chunk)
    if position < end:
        raise UploadError(f"{content.path.name} shrank while being read",
                          fix="do not modify the artifact while the step runs")
