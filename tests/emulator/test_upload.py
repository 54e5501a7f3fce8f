"""The whole upload flow, by hand, over real TLS sockets."""

from __future__ import annotations

import hashlib
import os

from intune_step.emulator import Emulator

from .helpers import Api


def test_full_upload_publishes_and_keeps_plaintext(emu: Emulator, api: Api) -> None:
    plaintext = os.urandom(5000) + b"tail"
    upload = api.full_upload(plaintext)
    app = emu.app(upload.app_id)
    assert app is not None
    assert app["publishingState"] == "published"
    assert app["committedContentVersion"] == "1"
    assert emu.committed_content(upload.app_id) == plaintext
    assert emu.committed_sha256(upload.app_id) == hashlib.sha256(plaintext).hexdigest()
    file = emu.files(upload.app_id)[0]
    assert file["isCommitted"] is True and file["uploadState"] == "commitFileSuccess"
