"""Readers that misbehave on purpose, to prove the harness catches each kind of finding."""

from __future__ import annotations

import time
from pathlib import Path

from intune_step.errors import ArtifactError


def raises(path: Path) -> None:
    if path.read_bytes() != b"seed":  # the seed passes, a mutant hits "a bug"
        raise KeyError("a bug")


def hangs(path: Path) -> None:
    if path.read_bytes() != b"seed":
        time.sleep(3600)


def hoards(path: Path) -> None:
    if path.read_bytes() == b"seed":
        return
    held = []
    while True:  # until the address-space cap says no
        held.append(bytearray(64 * 1024 * 1024))


def behaves(path: Path) -> None:
    raise ArtifactError("always refused")
