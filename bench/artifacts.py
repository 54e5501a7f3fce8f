"""Benchmark artifacts: real IPAs (iosLobApp) grown to a size with incompressible padding.

They are written as a stream of os.urandom chunks (intune_step.samples.ipa), never held in
memory, and kept in the work directory for the next run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from intune_step.samples.ipa import build_ipa

OVERHEAD = 16 * 1024  # Info.plist, profile, decoys and zip records, roughly


def make_artifact(workdir: Path, size: int, log: Callable[[str], None]) -> Path:
    path = workdir / f"bench-{size}.ipa"
    done = workdir / f"bench-{size}.ipa.ok"  # written last: a half-built file is rebuilt
    if path.exists() and done.exists():
        return path
    log(f"building {path.name} ({size / 1024 / 1024:.0f} MiB of random padding)")
    partial = path.with_suffix(".part.ipa")
    build_ipa(partial, padding_bytes=max(0, size - OVERHEAD))
    os.replace(partial, path)
    done.write_text("ok\n")
    return path
