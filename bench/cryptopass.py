"""The project's encrypt-and-digest pass alone: the upload's read, SHA-256, AES-CBC and HMAC
code (blob.encrypt_and_digest), with every finished block dropped instead of sent.

Run as: python -m bench.cryptopass FILE; prints {"seconds": ..., "sha256": ...}. The time is
the pass's own, without the interpreter's start-up, as openssl's is nearly all pass.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from intune_step.artifacts.base import PlainContent
from intune_step.upload.blob import encrypt_and_digest


def main() -> None:
    path = Path(sys.argv[1])
    content = PlainContent(path, path.stat().st_size)
    started = time.perf_counter()
    result = encrypt_and_digest(content)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "sha256": result.file_sha256}))


if __name__ == "__main__":
    main()
