"""Helpers shared by the IPA and APK reader tests: hostile ZIPs and a tiny mutation fuzzer."""

from __future__ import annotations

import random
import struct
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from intune_step.errors import ArtifactError

CENTRAL_HEADER = b"PK\x01\x02"
FUZZ_SECONDS = 0.4  # per seed; five seeds over two tests make the ~2 s budget
INTERESTING_U32 = (0, 1, 7, 8, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def claim_size(path: Path, member: str, size: int) -> None:
    """Make ``member`` claim ``size`` uncompressed bytes in the central directory."""
    data = bytearray(path.read_bytes())
    pos = data.find(CENTRAL_HEADER)
    while pos >= 0:
        name_length = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + name_length] == member.encode():
            struct.pack_into("<I", data, pos + 24, size)
            path.write_bytes(bytes(data))
            return
        pos = data.find(CENTRAL_HEADER, pos + 4)
    raise AssertionError(f"{member} not in {path}")


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _mutate(rng: random.Random, seed: bytes) -> bytes:
    data = bytearray(seed)
    choice = rng.randrange(6)
    if choice == 0:  # pure noise
        return rng.randbytes(rng.randrange(0, 256))
    if choice == 1 or not data:  # flip a few bytes
        for _ in range(rng.randrange(1, 8)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if choice == 2:  # truncate
        return bytes(data[: rng.randrange(len(data))])
    if choice == 3:  # an interesting u32 where sizes, counts and indexes live
        offset = rng.randrange(0, max(1, len(data) - 3)) & ~3
        value = rng.choice(INTERESTING_U32) if rng.random() < 0.8 else rng.getrandbits(32)
        data[offset : offset + 4] = struct.pack("<I", value)[: len(data) - offset]
        return bytes(data)
    if choice == 4:  # an interesting u16 (types, header sizes, attribute counts)
        offset = rng.randrange(0, max(1, len(data) - 1)) & ~1
        data[offset : offset + 2] = struct.pack("<H", rng.choice(INTERESTING_U32) & 0xFFFF)[
            : len(data) - offset
        ]
        return bytes(data)
    start = rng.randrange(len(data))  # duplicate or delete a slice
    end = min(len(data), start + rng.randrange(1, 64))
    if rng.random() < 0.5:
        return bytes(data[:end] + data[start:])
    return bytes(data[:start] + data[end:])


@pytest.fixture
def fuzz() -> Callable[[bytes, Callable[[bytes], object]], int]:
    """Feed mutants of ``seed`` to ``target`` for FUZZ_SECONDS; only ArtifactError may escape.

    Seeded, so a failure names the input that caused it and reproduces."""

    def run(seed: bytes, target: Callable[[bytes], object]) -> int:
        rng = random.Random(20240601)
        count = 0
        for data in _mutants(rng, seed):
            count += 1
            try:
                target(data)
            except ArtifactError:
                pass
            except Exception as exc:  # the property under test: nothing else escapes
                pytest.fail(f"{type(exc).__name__}: {exc} on input {data.hex()}")
        return count

    return run


def _mutants(rng: random.Random, seed: bytes) -> Iterator[bytes]:
    deadline = time.monotonic() + FUZZ_SECONDS
    while time.monotonic() < deadline:
        yield _mutate(rng, seed)


@pytest.fixture(name="claim_size")
def claim_size_fixture() -> Callable[[Path, str, int], None]:
    return claim_size


@pytest.fixture(name="write_zip")
def write_zip_fixture() -> Callable[[Path, dict[str, bytes]], Path]:
    return write_zip
