"""Non-ASCII names on a Windows runner: a cp1252 pipe becomes UTF-8, a console never raises."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from intune_step.commands.console import is_utf8, safe_stream

NAME = "東京の地図 Ελληνικά Crème 🚀"
REPO = Path(__file__).resolve().parents[3]


class Console(io.TextIOWrapper):
    def isatty(self) -> bool:
        return True


def test_a_cp1252_pipe_as_on_windows_writes_utf8() -> None:
    raw = io.BytesIO()
    pipe = io.TextIOWrapper(raw, encoding="cp1252")  # Python's pipe encoding on Windows
    safe_stream(pipe)
    pipe.write(NAME)
    pipe.flush()
    assert raw.getvalue().decode("utf-8") == NAME


def test_a_console_keeps_its_encoding_and_replaces_what_it_cannot_show() -> None:
    raw = io.BytesIO()
    console = Console(raw, encoding="cp437")
    safe_stream(console)
    console.write("Crème 東京")
    console.flush()
    assert raw.getvalue() == "Crème ??".encode("cp437")


def test_a_utf8_stream_is_left_as_it_is() -> None:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    safe_stream(stream)
    assert stream.errors == "strict"
    assert is_utf8("UTF8") and is_utf8("utf_8") and not is_utf8("cp1252")
    assert not is_utf8("no-such-codec")


def test_the_ci_entry_prints_a_non_ascii_name_through_a_cp1252_pipe(tmp_path: Path) -> None:
    """The real entry with Python's streams as a Windows runner gives them: its error line
    names a missing non-ASCII file instead of crashing with UnicodeEncodeError."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))},
        "PYTHONIOENCODING": "cp1252",
        "PYTHONPATH": str(REPO),
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(tmp_path),
        "INPUT_FILE": f"{NAME}.ipa",
        "INPUT_CLIENT-ID": "00000000-0000-0000-0000-000000000000",
        "INPUT_CLIENT-SECRET": "not-a-secret",
        "INPUT_AUTH-URL": "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
    }
    proc = subprocess.run(
        [sys.executable, str(REPO / "entrypoint.py")],
        env=env,
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
    )
    out = proc.stdout.decode("utf-8")
    assert proc.returncode == 2, out + proc.stderr.decode("utf-8", "replace")
    assert f"{NAME}.ipa" in out
    assert b"UnicodeEncodeError" not in proc.stderr
