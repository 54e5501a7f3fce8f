"""The baseline: what the common tools do, inside this project's own publish flow.

See docs/protocol.md, "Azure Blob upload".

The Microsoft PowerShell samples, IntuneWin32App, WinTuner, intune-uploader and IntuneGet all
encrypt the whole file to a temporary file first, then send it in 6 MiB blocks, one at a time.
Only the upload differs from `intune-step publish`: the same sign-in, Graph calls, waits and
commit run, because this swaps the uploader class that the step's own run uses. It is a fair
baseline, if anything a kind one: it encrypts, digests and MACs in a single pass (the tools
hash the file in a separate read) and uses the same crypto library.

Run as: python -m bench.baseline FILE (settings from INTUNE_* variables, as the CLI reads).
"""

from __future__ import annotations

import base64
import copy
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from intune_step.artifacts.base import Content, EncryptedContent
from intune_step.crypto import HEADER_SIZE, StreamEncryptor
from intune_step.errors import UploadError
from intune_step.upload.blob import UploadResult, UploadTarget

BLOCK = 6 * 1024 * 1024  # the tools' chunk size
READ = 1024 * 1024


class SequentialUploader:
    """Encrypt to a temp file, then Put Block 6 MiB at a time, then Put Block List."""

    used = False  # proves the swap took effect

    def __init__(self, http: httpx.Client, reporter: Any, **_: Any) -> None:
        self._http = http
        self._reporter = reporter

    def upload(self, content: Content, target: UploadTarget, label: str,
               read_hook: Callable[[int], None] | None = None) -> UploadResult:
        if isinstance(content, EncryptedContent):
            raise UploadError("the baseline encrypts; give it a plain artifact")
        SequentialUploader.used = True
        with tempfile.TemporaryFile(dir=content.path.parent) as encrypted:
            encryptor = StreamEncryptor()
            encrypted.write(bytes(HEADER_SIZE))
            with content.path.open("rb") as source:
                while chunk := source.read(READ):
                    encrypted.write(encryptor.update(chunk))
            encrypted.write(encryptor.finalize())
            encrypted.seek(0)
            encrypted.write(encryptor.header())
            encrypted.flush()
            encrypted.seek(0)
            ids: list[str] = []
            total, done = content.size_encrypted, 0
            while block := encrypted.read(BLOCK):
                block_id = base64.b64encode(f"{len(ids):04d}".encode()).decode()
                self._put(target, f"comp=block&blockid={block_id}", block)
                ids.append(block_id)
                done += len(block)
                self._reporter.progress(label, done, total)
        xml = ('<?xml version="1.0" encoding="utf-8"?><BlockList>'
               + "".join(f"<Latest>{i}</Latest>" for i in ids) + "</BlockList>")
        self._put(target, "comp=blocklist", xml.encode())
        info = encryptor.info()
        return UploadResult(info, info.file_digest.hex(), len(ids))

    def reporting_to(self, reporter: Any) -> SequentialUploader:
        twin = copy.copy(self)
        twin._reporter = reporter
        return twin

    def cancel(self) -> None:
        """Nothing to stop between blocks: the baseline sends one block at a time."""

    def _put(self, target: UploadTarget, query: str, data: bytes) -> None:
        for _attempt in range(3):
            response = self._http.put(f"{target.uri()}&{query}", content=data)
            if response.status_code == 201:
                return
        raise UploadError(f"baseline Put failed: HTTP {response.status_code}")


def main() -> None:
    import intune_step.commands.run as app
    from intune_step.commands.cli import main as cli

    app.BlockUploader = SequentialUploader  # type: ignore[assignment,misc]
    try:
        cli(["publish", str(Path(sys.argv[1]))])
    except SystemExit as exc:
        if exc.code == 0 and not SequentialUploader.used:
            sys.exit("baseline: the step did not use the baseline uploader "
                     "(commands/run.py changed?)")
        raise


if __name__ == "__main__":
    main()
