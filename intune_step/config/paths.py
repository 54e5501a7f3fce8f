"""Paths the user gives are relative to the CI workspace; paths we show are too.

The same rules hold on Linux, macOS and Windows runners, whichever path flavour the runner
gives (a test runs them with ``PureWindowsPath`` too): a path with an anchor (``/x``,
``C:\\x``, ``\\x``, ``C:x``, ``\\\\server\\share``) is the user's own, anything else is taken
from the workspace; a file is known by its identity, not its spelling, so ``App.ipa`` and
``app.ipa`` on a case-insensitive volume (macOS, Windows) are one file.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath
from typing import TypeVar

P = TypeVar("P", bound=PurePath)


def in_workspace(path: P, workspace: P | None) -> P:
    """``path`` as given when anchored (or with no workspace), else under the workspace.

    Only a relative path joins the workspace: on Windows ``ws / "C:x"`` would silently leave
    the workspace's drive, so a drive- or root-relative path is kept as the user wrote it."""
    return path if path.anchor or workspace is None else workspace / path


def is_anchored(text: str, flavour: type[PurePath] = Path) -> bool:
    """True when ``text`` is not taken from the workspace (see :func:`in_workspace`)."""
    return bool(flavour(text).anchor)


def shown(path: Path, workspace: Path | None) -> str:
    """``path`` as the user sees it: relative to the workspace (or cwd) when under it."""
    base = workspace or Path.cwd()
    return relative_text(path.resolve(), base.resolve())


def relative_text(path: PurePath, base: PurePath) -> str:
    """``path`` relative to ``base`` with forward slashes (Windows compares case-blind), or
    the path as it is when it is not under ``base``."""
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def file_identity(path: Path) -> object:
    """What makes two spellings the same file: the volume and file number when it exists
    (hard links, case-insensitive volumes), else the resolved path as the OS compares it."""
    try:
        stat = path.stat()
    except OSError:
        stat = None
    if stat is not None and stat.st_ino:
        return (stat.st_dev, stat.st_ino)
    return os.path.normcase(str(path.resolve()))
