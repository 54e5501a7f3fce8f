"""Upload a content file to Azure Blob storage in one streaming pass.

The file is read once, straight into reusable buffers: each chunk is hashed, encrypted
(unless the artifact is already encrypted, as a .intunewin payload is), MACed and sent as part
of a block while later chunks are still being read. Blocks go up in parallel, at most
``in_flight`` at a time, each retried on its own. Memory is a fixed set of block buffers
(:class:`BufferPool`) whatever the file size. The ProfileVersion1 header (mac ‖ iv) is known
only at the end; it goes up last as its own block and is listed first in the block list,
which is all Azure needs to assemble the blob in order.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import mmap
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from io import FileIO
from typing import Protocol

import httpx

from intune_step.artifacts.base import Content, EncryptedContent
from intune_step.crypto import OUT_SLACK, FileEncryptionInfo, HashThread, PipelineEncryptor
from intune_step.errors import UploadError
from intune_step.report import Reporter
from intune_step.transport.attempts import send_with_retries
from intune_step.transport.deadline import Deadline
from intune_step.transport.diagnose import diagnose
from intune_step.transport.retry import RetryPolicy

MiB = 1024 * 1024
READ_SIZE = MiB  # one read; a multiple of 16, so ciphertext stays aligned with blocks
READ_BUFFERS = 4  # plaintext chunks the SHA-256 thread may lag behind
# A block goes to httpx as views this small: h11 copies each once, and copies this size
# reuse malloc memory instead of growing every connection thread's heap (and so RSS).
SEND_PIECE = 128 * 1024
# 12 blocks of 6 MiB in flight: on a link that caps each connection (as real networks do,
# by round trips and windows) more connections beat bigger blocks, for the same ~80 MiB.
DEFAULT_IN_FLIGHT = 12
DEFAULT_BLOCK = 6 * MiB
MIN_BLOCK = MiB
MAX_BLOCK = 100 * MiB  # Put Block limit at sv=2017-04-17 (docs/protocol.md#azure-blob-upload)
BLOB_RETRY = RetryPolicy(attempts=6, base_delay=1.0, max_delay=30.0)  # each block alone
MAX_BLOCKS = 49_000  # Azure allows 50,000 committed blocks; keep a margin
# Azure Storage's transient answers: timeouts, throttling, server busy or failing.
BLOB_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


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


class Uploader(Protocol):
    """What the publish flow needs of an uploader (BlockUploader; the benchmark's baseline)."""

    def upload(self, content: Content, target: UploadTarget, label: str,
               read_hook: Callable[[int], None] | None = None) -> UploadResult:
        """Send ``content`` to ``target`` encrypted; the keys to commit and the digest."""

    def reporting_to(self, reporter: Reporter) -> Uploader:
        """The same uploader reporting one artifact's progress to ``reporter``."""

    def cancel(self) -> None:
        """Stop every upload under way (the job is being cancelled)."""


def choose_block_size(encrypted_size: int, in_flight: int = DEFAULT_IN_FLIGHT) -> int:
    """1 to 6 MiB: a small file still spreads over every connection (two blocks each), a big
    one pays the per-request latency once per 6 MiB. Larger only when 49,000 blocks would not
    hold the file (over ~290 GiB)."""
    per_connection = -(-encrypted_size // (2 * max(1, in_flight)))
    size = min(DEFAULT_BLOCK, max(MIN_BLOCK, -(-per_connection // MiB) * MiB))
    while -(-encrypted_size // size) > MAX_BLOCKS and size < MAX_BLOCK:
        size *= 2
    return min(size, MAX_BLOCK)


def block_id(index: int) -> str:
    """Fixed-width IDs: Azure refuses a blob whose block IDs differ in length."""
    return base64.b64encode(f"{index:08d}".encode()).decode()


def pool_budget(in_flight: int, block_size: int = DEFAULT_BLOCK) -> int:
    """Bytes of block buffers: one per block in flight and the one being filled."""
    return (max(1, in_flight) + 1) * (block_size + OUT_SLACK)


def aligned_buffer(size: int) -> mmap.mmap:
    """Page-aligned memory. The kernel copies file pages into a buffer that starts off a cache
    line (as a bytearray's data does) about four times slower; AES and SHA also like it."""
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)


class BufferPool:
    """The upload's memory: reusable block buffers under one byte budget.

    One pool serves every upload of a run, so several files at once fit the same budget.
    A buffer comes back when its block is both uploaded and MACed; a taker waits until then.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.allocated = 0  # bytes of buffers that exist (free or lent)
        self.peak = 0
        self._free: list[mmap.mmap] = []
        self._cond = threading.Condition()

    def take(self, size: int) -> mmap.mmap:
        with self._cond:
            while True:
                fits = [b for b in self._free if len(b) >= size]
                if fits:
                    buffer = min(fits, key=len)
                    self._free.remove(buffer)
                    return buffer
                if self.allocated + size <= self.budget or self.allocated == 0:
                    self.allocated += size
                    self.peak = max(self.peak, self.allocated)
                    return aligned_buffer(size)
                if self._free:  # free buffers too small for this block: make room
                    self.allocated -= len(self._free.pop())
                    continue
                self._cond.wait()

    def give(self, buffer: mmap.mmap) -> None:
        with self._cond:
            self._free.append(buffer)
            self._cond.notify_all()


class _Lease:
    """A block buffer and a count of who still reads it (producer, HMAC thread, the PUT)."""

    def __init__(self, pool: BufferPool, size: int) -> None:
        self._pool = pool
        self.buffer = pool.take(size)
        self.view = memoryview(self.buffer)
        self._refs = 1
        self._lock = threading.Lock()

    def hold(self) -> Callable[[], None]:
        with self._lock:
            self._refs += 1
        return self.release

    def release(self) -> None:
        with self._lock:
            self._refs -= 1
            last = self._refs == 0
        if last:
            self._pool.give(self.buffer)


@dataclass
class Block:
    index: int  # 1-based: 0 is the header's
    lease: _Lease
    length: int

    def data(self) -> memoryview:
        return self.lease.view[: self.length]


class BlockSource:
    """Reads the artifact once and yields its blob in blocks, hashed, encrypted and MACed.

    For plain content every byte is read into a small plaintext buffer, SHA-256'd on one
    thread, AES-encrypted here straight into a block buffer, and HMAC'd on another thread.
    For a .intunewin the stored payload is read straight into block buffers; the whole outer
    file is SHA-256'd for ``file_sha256``. Blocks must be released by the consumer.
    """

    def __init__(self, content: Content, block_size: int, pool: BufferPool,
                 read_hook: Callable[[int], None] | None = None) -> None:
        if block_size % 16:
            raise ValueError("block size must be a multiple of 16")
        self.content = content
        self.block_size = block_size
        self._pool = pool
        self._read_hook = read_hook
        self._encryptor: PipelineEncryptor | None = None
        self._file_sha: HashThread | None = None

    def blocks(self) -> Generator[Block, None, None]:
        with self.content.path.open("rb", buffering=0) as handle:
            if isinstance(self.content, EncryptedContent):
                yield from self._stored_blocks(handle, self.content)
            else:
                yield from self._encrypted_blocks(handle)

    def result(self) -> tuple[FileEncryptionInfo, bytes | None, str]:
        """(keys to commit, header block or None, hex SHA-256 of the file), after blocks()."""
        if self._encryptor is not None:
            info = self._encryptor.info()
            return info, self._encryptor.header(), info.file_digest.hex()
        assert isinstance(self.content, EncryptedContent) and self._file_sha is not None
        return self.content.encryption_info, None, self._file_sha.digest().hex()

    def close(self) -> None:
        """Stop the hash threads (after a failure; result() has already joined them)."""
        if self._encryptor is not None:
            self._encryptor.close()
        if self._file_sha is not None:
            self._file_sha.close()

    # -- plain content: read, SHA-256, AES, HMAC ------------------------------------------
    def _encrypted_blocks(self, handle: FileIO) -> Generator[Block, None, None]:
        self._encryptor = encryptor = PipelineEncryptor()
        plain: queue.SimpleQueue[mmap.mmap] = queue.SimpleQueue()
        for _ in range(READ_BUFFERS):
            plain.put(aligned_buffer(READ_SIZE))
        left = self.content.size
        index = 1
        lease: _Lease | None = _Lease(self._pool, self.block_size + OUT_SLACK)
        filled = 0
        try:
            while left > 0:
                assert lease is not None
                want = min(READ_SIZE, self.block_size - filled, left)
                buffer = plain.get()  # waits while SHA-256 still reads all of them
                view = memoryview(buffer)[:want]
                got = _read_into(handle, view)
                if got < want:
                    plain.put(buffer)
                    raise _shrank(self.content)
                left -= got
                self._hooked(got)
                filled += encryptor.update_into(view, lease.view[filled:],
                                                plain_done=_returner(plain, buffer),
                                                out_done=lease.hold())
                if filled == self.block_size:
                    block, lease = Block(index, lease, filled), None
                    yield block  # the consumer owns it now
                    index += 1
                    lease, filled = _Lease(self._pool, self.block_size + OUT_SLACK), 0
            assert lease is not None
            filled += encryptor.finalize_into(lease.view[filled:], out_done=lease.hold())
            block, lease = Block(index, lease, filled), None
            yield block
        finally:
            if lease is not None:
                lease.release()

    # -- a .intunewin: upload the stored payload as it is ---------------------------------
    def _stored_blocks(self, handle: FileIO,
                       content: EncryptedContent) -> Generator[Block, None, None]:
        self._file_sha = sha = HashThread(hashlib.sha256(), "sha256")
        start, end = content.offset, content.offset + content.size_encrypted
        self._hash_only(handle, sha, start)
        index, position = 1, start
        while position < end:
            lease: _Lease | None = _Lease(self._pool, self.block_size)
            length = min(self.block_size, end - position)
            try:
                filled = 0
                while filled < length:
                    assert lease is not None
                    want = min(READ_SIZE, length - filled)
                    view = lease.view[filled: filled + want]
                    got = _read_into(handle, view)
                    if got < want:
                        raise _shrank(content)
                    self._hooked(got)
                    sha.feed(view, lease.hold())
                    filled += got
                assert lease is not None
                block, lease = Block(index, lease, length), None
                yield block  # the consumer owns it now
            finally:
                if lease is not None:
                    lease.release()
            position += length
            index += 1
        self._hash_only(handle, sha, None)

    def _hash_only(self, handle: FileIO, sha: HashThread, limit: int | None) -> None:
        """Hash the bytes outside the payload (up to ``limit``, or to the end of the file)."""
        left = limit if limit is not None else -1
        while left != 0:
            buffer = aligned_buffer(READ_SIZE if left < 0 else min(READ_SIZE, left))
            got = _read_into(handle, memoryview(buffer))
            if got == 0:
                if left > 0:
                    raise _shrank(self.content)
                return
            self._hooked(got)
            sha.feed(memoryview(buffer)[:got])
            if left > 0:
                left -= got

    def _hooked(self, count: int) -> None:
        if self._read_hook is not None:
            self._read_hook(count)


def _read_into(handle: FileIO, view: memoryview) -> int:
    """Fill ``view`` unless the file ends first; returns the bytes read."""
    got = 0
    while got < len(view):
        count = handle.readinto(view[got:])
        if not count:
            break
        got += count
    return got


def _returner(pool: queue.SimpleQueue[mmap.mmap], buffer: mmap.mmap) -> Callable[[], None]:
    return lambda: pool.put(buffer)


def _shrank(content: Content) -> UploadError:
    return UploadError(f"{content.path.name} shrank while being read",
                       fix="do not modify the artifact while the step runs")


def _blob_detail(response: httpx.Response) -> str:
    """Azure's error code and request-id, for a retry warning."""
    return (f" {response.headers.get('x-ms-error-code', '')} "
            f"(request-id {response.headers.get('x-ms-request-id', '-')})")


def _unreachable(error: Exception, attempts: int) -> UploadError:
    problem = diagnose(error, "Azure Storage")
    why = problem.sentence() if problem else type(error).__name__
    return UploadError(
        f"blob upload failed: {why}, {attempts} attempt{'s' if attempts != 1 else ''}",
        fix=problem.fix if problem else
        "check network access to Azure Storage (*.blob.core.windows.net); re-run the step",
    )


def _pieces(data: memoryview) -> Iterator[memoryview]:
    for start in range(0, len(data), SEND_PIECE):
        yield data[start: start + SEND_PIECE]


class BlockUploader:
    """Puts blocks in parallel with per-block retries and SAS renewal, then the block list.

    One uploader may serve several uploads at once (a multi-file run): they share its
    buffer pool, so memory stays at :func:`pool_budget` however many files go up together.
    """

    def __init__(
        self,
        http: httpx.Client,
        reporter: Reporter,
        *,
        block_size: int | None = None,
        in_flight: int = DEFAULT_IN_FLIGHT,
        retry: RetryPolicy | None = None,
        pool: BufferPool | None = None,
    ) -> None:
        self._http = http
        self._reporter = reporter
        self._block_size = -(-block_size // 16) * 16 if block_size else None
        self._in_flight = max(1, in_flight)
        self._retry = retry or BLOB_RETRY
        self._renew_lock = threading.Lock()
        self._cancelled = threading.Event()
        self.pool = pool or BufferPool(
            pool_budget(self._in_flight, max(self._block_size or 0, DEFAULT_BLOCK)))

    def reporting_to(self, reporter: Reporter) -> BlockUploader:
        """This uploader (same pool, connections, cancel switch) reporting to ``reporter``:
        each file of a multi-file run reports its own progress and lines."""
        twin = copy.copy(self)
        twin._reporter = reporter
        return twin

    def cancel(self) -> None:
        """Stop every upload at its next block (the job is being cancelled): each raises
        UploadError, so the publish that started it cleans up as after any failure."""
        self._cancelled.set()

    def _stopping(self, abort: threading.Event | None) -> bool:
        return self._cancelled.is_set() or (abort is not None and abort.is_set())

    # -- one block ------------------------------------------------------------------------
    def _put(self, target: UploadTarget, query: str, data: bytes | memoryview,
             content_type: str, abort: threading.Event | None = None) -> None:
        sent_to = ""  # the SAS URI of the latest try
        renewed_for: str | None = None
        deadline = Deadline(self._retry.deadline)

        def send() -> httpx.Response:
            nonlocal sent_to
            sent_to = target.uri()
            return deadline.send(
                self._http, "PUT", f"{sent_to}&{query}",
                # A fresh iterator per attempt; the explicit length keeps it unchunked.
                # httpx sends memoryviews as they are: no copy.
                content=_pieces(memoryview(data)),
                # No x-ms-blob-type: it is a Put Blob header, and Azurite takes a block
                # list sent with it for a Put Blob of the XML itself.
                headers={"Content-Type": content_type, "Content-Length": str(len(data))},
            )

        def renew(response: httpx.Response) -> bool:
            # The SAS expired or was replaced: renew once per URI, then retry this block.
            nonlocal renewed_for
            if response.status_code != 403 or renewed_for == sent_to:
                return False
            with self._renew_lock:
                if target.uri() == sent_to:
                    target.renew()
            renewed_for = sent_to
            return True

        outcome = send_with_retries(
            send, self._retry, "blob upload", warn=self._reporter.warning,
            statuses=BLOB_RETRY_STATUSES, detail=_blob_detail, recover=renew,
            stop=lambda: self._stopping(abort), unreachable=_unreachable, deadline=deadline)
        response, attempt = outcome.response, outcome.attempts
        if response.status_code == 201:
            return
        error_code = response.headers.get("x-ms-error-code", "")
        request_id = response.headers.get("x-ms-request-id", "-")
        expired = response.status_code == 403
        raise UploadError(
            f"blob upload failed: HTTP {response.status_code} {error_code}".strip()
            + (" even after renewing the upload URL" if expired else "")
            + f" (request-id {request_id})"
            + (f" after {attempt} attempts" if attempt > 1 and not expired else ""),
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
        block_size = self._block_size or choose_block_size(total, self._in_flight)
        source = BlockSource(content, block_size, self.pool, read_hook)
        abort = threading.Event()
        done = 0
        done_lock = threading.Lock()
        ids: list[str] = []

        def report(count: int) -> None:
            nonlocal done
            with done_lock:
                done += count
                self._reporter.progress(label, done, total)

        def send(block: Block) -> None:
            try:
                if self._stopping(abort):
                    return
                self._put(target, f"comp=block&blockid={block_id(block.index)}", block.data(),
                          "application/octet-stream", abort)
            finally:
                block.lease.release()
            report(block.length)

        self._reporter.progress(label, 0, total)
        pending: set[Future[None]] = set()
        with ThreadPoolExecutor(max_workers=self._in_flight, thread_name_prefix="block") as pool:
            blocks = source.blocks()
            try:
                for block in blocks:
                    try:
                        if self._cancelled.is_set():
                            raise UploadError("the upload stopped: the job is being cancelled")
                        # A bounded number in flight: wait for a slot before reading further.
                        while len(pending) >= self._in_flight:
                            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                            for future in finished:
                                future.result()
                    except BaseException:
                        block.lease.release()
                        raise
                    ids.append(block_id(block.index))
                    pending.add(pool.submit(send, block))
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        future.result()
                info, header, file_sha256 = source.result()
            except BaseException:
                abort.set()  # queued blocks are released unsent, running PUTs stop retrying
                blocks.close()  # releases the block being filled and closes the file
                source.close()
                raise

        if header is not None:
            self._put(target, f"comp=block&blockid={block_id(0)}", header,
                      "application/octet-stream")
            report(len(header))
            block_list = [block_id(0), *ids]
        else:
            block_list = ids
        body = "".join(f"<Latest>{i}</Latest>" for i in block_list)
        xml = f'<?xml version="1.0" encoding="utf-8"?><BlockList>{body}</BlockList>'
        self._put(target, "comp=blocklist", xml.encode(), "application/xml")
        return UploadResult(info, file_sha256, len(block_list))


def encrypt_and_digest(content: Content, block_size: int = DEFAULT_BLOCK,
                       read_hook: Callable[[int], None] | None = None) -> UploadResult:
    """The upload's read-hash-encrypt-MAC pass with nothing sent (the benchmark's crypto pass).

    Blocks are dropped as soon as they are complete, which is what a network that is never
    the bottleneck would look like.
    """
    pool = BufferPool(pool_budget(0, block_size))
    source = BlockSource(content, block_size, pool, read_hook)
    blocks = source.blocks()
    count = 0
    try:
        for block in blocks:
            block.lease.release()
            count = block.index
        info, header, file_sha256 = source.result()
    except BaseException:
        blocks.close()
        source.close()
        raise
    return UploadResult(info, file_sha256, count + (1 if header is not None else 0))

