"""Console streams that never fail on a non-ASCII app name.

Python writes to a pipe in the locale's encoding: on a Windows runner that is the ANSI code
page (cp1252), which cannot encode most of the world's scripts, and the first name in Greek
or Japanese would end the run with UnicodeEncodeError. GitHub's runner reads a step's output
as UTF-8 on Windows (actions/runner, the process handlers' ``outputEncoding``), as Linux and
macOS runners do by locale, so a pipe is switched to UTF-8. A real console keeps its own
encoding (Windows' console writes UTF-16 anyway); a character it cannot show becomes '?'
instead of an exception.
"""

from __future__ import annotations

import codecs
import sys
from typing import TextIO


def is_utf8(encoding: str | None) -> bool:
    try:
        return codecs.lookup(encoding or "ascii").name == "utf-8"
    except LookupError:
        return False


def safe_stream(stream: TextIO | None) -> None:
    """Make ``stream`` able to write any text: UTF-8 when it is a pipe or file."""
    reconfigure = getattr(stream, "reconfigure", None)
    if stream is None or reconfigure is None or is_utf8(getattr(stream, "encoding", None)):
        return
    try:
        tty = stream.isatty()
    except ValueError:  # closed
        return
    if tty:
        reconfigure(errors="replace")
    else:
        reconfigure(encoding="utf-8", errors="replace")


def safe_console() -> None:
    """Called once by each entry, before anything is printed."""
    safe_stream(sys.stdout)
    safe_stream(sys.stderr)
