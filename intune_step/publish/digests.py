"""Each artifact's SHA-256, known once for the whole run, however many tenants it goes to.

An upload learns the hash from its own pass over the file (it reads the file to encrypt it
anyway); only comparing with an app that already exists needs the hash before uploading, and
that is a read of its own. Shared by every target of a run, that read happens at most once
per file: the first target that needs it reads, the others wait for it or take what an upload
found.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path


class FileDigests:
    def __init__(self) -> None:
        self._known: dict[Path, str] = {}
        self._locks: dict[Path, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, path: Path, compute: Callable[[Path], str]) -> str:
        """The hash of ``path``, computed by ``compute`` only if nobody knows it yet."""
        with self._lock:
            own = self._locks.setdefault(path, threading.Lock())
        with own:  # a second target waits for the first one's read instead of reading too
            with self._lock:
                known = self._known.get(path)
            if known is None:
                known = compute(path)
                self.offer(path, known)
            return known

    def offer(self, path: Path, sha256: str) -> None:
        """What an upload's pass found (the first word stays: the file must not change)."""
        with self._lock:
            self._known.setdefault(path, sha256)
