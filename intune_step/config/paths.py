"""Paths the user gives are relative to the CI workspace; paths we show are too."""

from __future__ import annotations

from pathlib import Path


def in_workspace(path: Path, workspace: Path | None) -> Path:
    """``path`` as given when absolute (or with no workspace), else under the workspace."""
    return path if path.is_absolute() or workspace is None else workspace / path


def shown(path: Path, workspace: Path | None) -> str:
    """``path`` as the user sees it: relative to the workspace (or cwd) when under it."""
    base = workspace or Path.cwd()
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)
