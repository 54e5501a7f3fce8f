"""Fuzz every artifact reader briefly, and prove the harness catches each kind of finding.

Each reader runs in a child process capped at 512 MiB of address space and watched for hangs;
only ArtifactError may come out of a reader. INTUNE_FUZZ_SECONDS sets the time per reader
(default 1 s here; `scripts/fuzz --seconds N` for long runs). The seed is fixed so a CI
failure reproduces; INTUNE_FUZZ_SEED varies it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .harness import SUFFIXES, Outcome, fuzz

SECONDS = float(os.environ.get("INTUNE_FUZZ_SECONDS", "1"))
SEED = int(os.environ.get("INTUNE_FUZZ_SEED", "20261129"))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every reader at once (each in its own child process), reported one test each."""
    keep = tmp_path_factory.mktemp("findings")
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = {suffix: pool.submit(fuzz, suffix, SECONDS, SEED, keep=keep)
                for suffix in SUFFIXES}
        return {suffix: run.result() for suffix, run in runs.items()}


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_reader_survives_mutants(suffix: str, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[suffix]
    assert outcome.finding is None, outcome.line()
    assert outcome.cases > 10, outcome.line()  # the reader really was fed


@pytest.mark.parametrize(
    ("target", "finding"),
    [
        ("tests.fuzz.targets:raises", "KeyError: 'a bug'"),
        ("tests.fuzz.targets:hoards", "MemoryError"),
        ("tests.fuzz.targets:hangs", "hang: one input ran longer than 1s"),
    ],
)
def test_the_harness_reports_each_kind_of_finding(target: str, finding: str,
                                                  tmp_path: Path) -> None:
    outcome = fuzz(".bin", 30, 1, hang=1, memory_mb=256, keep=tmp_path, target=target)
    assert outcome.finding is not None and finding in outcome.finding, outcome.line()
    assert outcome.kept is not None and outcome.kept.exists()
    assert outcome.kept.read_bytes() != b"seed"  # the mutant, not the seed, was kept


def test_a_well_behaved_reader_is_clean(tmp_path: Path) -> None:
    outcome = fuzz(".bin", 0.3, 1, keep=tmp_path, target="tests.fuzz.targets:behaves")
    assert outcome.finding is None and outcome.cases > 1, outcome.line()
    assert list(tmp_path.iterdir()) == []
