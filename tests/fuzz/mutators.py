"""Mutations: the byte-level ones of tests/artifacts/conftest.py, plus ZIP-aware ones.

A flipped byte inside a ZIP member only trips its CRC, so the parser behind it is never
reached. The ZIP-aware mutation rewrites one member (mutated, or swapped for another seed's)
into a well-formed archive with a correct CRC, so plist, AXML, XML and nested-package
parsers see the damage.
"""

from __future__ import annotations

import io
import random
import zipfile

from ..artifacts.conftest import _mutate

__all__ = ["mutate"]


def _zip_members(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [(info, archive.read(info)) for info in archive.infolist()]
    except Exception:  # not a readable ZIP: only byte-level mutations apply
        return None


def _rezip(members: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info, content in members:
            archive.writestr(info, content, compress_type=info.compress_type)
    return out.getvalue()


def mutate(rng: random.Random, seed: bytes) -> bytes:
    """One mutant of ``seed``; may apply several mutations in a row."""
    data = seed
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        members = _zip_members(data) if rng.random() < 0.6 else None
        if members:
            index = rng.randrange(len(members))
            info, content = members[index]
            if rng.random() < 0.5 and content[:2] == b"PK":  # nested package: go one deeper
                content = mutate(rng, content)
            else:
                content = _mutate(rng, content)
            members[index] = (info, content)
            data = _rezip(members)
        else:
            data = _mutate(rng, data)
    return data
