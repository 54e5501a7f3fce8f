"""Block blobs on disk, Azure-style: staged blocks, then a block list that commits them.

Each staged block is its own file, so a 4 GiB upload costs disk, not memory, and a committed
blob is read back by streaming its blocks in list order.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class Block:
    path: Path
    size: int


@dataclass
class _Blob:
    directory: Path
    uncommitted: dict[str, Block] = field(default_factory=dict)
    committed: list[tuple[str, Block]] | None = None
    via_block_list: bool = False


@dataclass(frozen=True)
class CommittedBlob:
    """A readable snapshot of a committed blob."""

    length: int
    via_block_list: bool
    blocks: tuple[Block, ...]

    def chunks(self, chunk: int = READ_CHUNK) -> Iterator[bytes]:
        for block in self.blocks:
            with block.path.open("rb") as fh:
                while data := fh.read(chunk):
                    yield data


class BlockListError(ValueError):
    """A block list names a block the blob does not have (Azure: InvalidBlockList)."""


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._blobs: dict[str, _Blob] = {}
        self._lock = threading.Lock()

    def create(self, key: str) -> None:
        with self._lock:
            if key not in self._blobs:
                directory = self.root / hashlib.sha1(key.encode()).hexdigest()
                directory.mkdir(parents=True, exist_ok=True)
                self._blobs[key] = _Blob(directory)

    def exists(self, key: str) -> bool:
        with self._lock:
            return key in self._blobs

    def id_length_ok(self, key: str, block_id: str) -> bool:
        """Azure rejects a block whose ID length differs from the blob's other block IDs."""
        with self._lock:
            blob = self._blobs[key]
            ids = list(blob.uncommitted) + [i for i, _ in blob.committed or []]
        return all(len(i) == len(block_id) for i in ids)

    def put_block(self, key: str, block_id: str, chunks: Iterable[bytes]) -> str:
        """Stage a block from ``chunks``; returns its MD5 (base64). Nothing is kept on error."""
        directory = self._blob(key).directory
        path = directory / f"{uuid.uuid4().hex}.blk"
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        try:
            with path.open("wb") as fh:
                for data in chunks:
                    md5.update(data)
                    fh.write(data)
                    size += len(data)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        with self._lock:
            blob = self._blobs.get(key)
            if blob is None:  # deleted meanwhile
                path.unlink(missing_ok=True)
                raise KeyError(key)
            old = blob.uncommitted.pop(block_id, None)
            blob.uncommitted[block_id] = Block(path, size)
        if old is not None:
            old.path.unlink(missing_ok=True)
        return base64.b64encode(md5.digest()).decode()

    def put_block_list(self, key: str, entries: list[tuple[str, str]]) -> int:
        """Commit ``(kind, id)`` entries (Latest/Committed/Uncommitted); returns the length."""
        with self._lock:
            blob = self._blobs[key]
            committed = dict(blob.committed or [])
            chosen: list[tuple[str, Block]] = []
            for kind, block_id in entries:
                block = None
                if kind in ("Latest", "Uncommitted"):
                    block = blob.uncommitted.get(block_id)
                if block is None and kind in ("Latest", "Committed"):
                    block = committed.get(block_id)
                if block is None:
                    raise BlockListError(block_id)
                chosen.append((block_id, block))
            keep = {b.path for _, b in chosen}
            stale = [
                b
                for b in list(blob.uncommitted.values()) + list(committed.values())
                if b.path not in keep
            ]
            blob.uncommitted = {}  # Azure discards uncommitted blocks at commit
            blob.committed = chosen
            blob.via_block_list = True
        for block in stale:
            block.path.unlink(missing_ok=True)
        return sum(b.size for _, b in chosen)

    def put_blob(self, key: str, chunks: Iterable[bytes]) -> None:
        """Single-shot Put Blob: replaces the blob and drops staged blocks."""
        directory = self._blob(key).directory
        path = directory / f"{uuid.uuid4().hex}.blob"
        size = 0
        try:
            with path.open("wb") as fh:
                for data in chunks:
                    fh.write(data)
                    size += len(data)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        with self._lock:
            blob = self._blobs[key]
            stale = list(blob.uncommitted.values()) + [b for _, b in blob.committed or []]
            blob.uncommitted = {}
            blob.committed = [("", Block(path, size))]
            blob.via_block_list = False
        for block in stale:
            block.path.unlink(missing_ok=True)

    def committed(self, key: str) -> CommittedBlob | None:
        with self._lock:
            blob = self._blobs.get(key)
            if blob is None or blob.committed is None:
                return None
            blocks = tuple(b for _, b in blob.committed)
            return CommittedBlob(sum(b.size for b in blocks), blob.via_block_list, blocks)

    def block_ids(self, key: str) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """(committed, uncommitted) as (id, size) pairs, for Get Block List."""
        with self._lock:
            blob = self._blobs[key]
            committed = [(i, b.size) for i, b in blob.committed or [] if blob.via_block_list]
            return committed, [(i, b.size) for i, b in blob.uncommitted.items()]

    def delete(self, key: str) -> None:
        with self._lock:
            blob = self._blobs.pop(key, None)
        if blob is not None:
            for path in blob.directory.glob("*"):
                path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                blob.directory.rmdir()

    def _blob(self, key: str) -> _Blob:
        with self._lock:
            return self._blobs[key]
