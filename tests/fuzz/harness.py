"""Run the artifact readers under the mutation fuzzer, each in a watched child process.

A finding is any exception other than ArtifactError (including MemoryError under the memory
cap), an input that takes longer than ``--hang`` seconds, or a child that dies. The input that
caused it is kept in ``--keep`` with the seed, so it reproduces:
``scripts/fuzz --type .ipa --seed S --seconds N``.

Short runs are part of the test suite (tests/fuzz/test_fuzz.py); longer ones on demand:
``scripts/fuzz --seconds 600`` (every reader, that long each).
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from intune_step.artifacts import READERS

REPO = Path(__file__).resolve().parents[2]
SUFFIXES = (".ipa", ".apk", ".msi", ".msix", ".msixbundle", ".intunewin", ".pkg", ".dmg")
assert set(SUFFIXES) <= set(READERS)


@dataclass(frozen=True)
class Outcome:
    suffix: str
    seed: int
    cases: int
    finding: str | None = None  # None: clean
    kept: Path | None = None  # the input behind the finding

    def line(self) -> str:
        if self.finding is None:
            return f"{self.suffix}: {self.cases} inputs, no finding (seed {self.seed})"
        return (f"{self.suffix}: FINDING after {self.cases} inputs (seed {self.seed}): "
                f"{self.finding}; input kept at {self.kept}")


def fuzz(suffix: str, seconds: float, seed: int = 0, *, hang: float = 20.0,
         memory_mb: int = 512, keep: Path | None = None,
         target: str | None = None) -> Outcome:
    """Fuzz one reader for ``seconds``; never runs much past ``seconds + hang``."""
    with tempfile.TemporaryDirectory(prefix="intune-fuzz-") as folder:
        work = Path(folder)
        argv = [sys.executable, "-m", "tests.fuzz.worker", "--suffix", suffix, "--work",
                str(work), "--seconds", str(seconds), "--seed", str(seed),
                "--memory-mb", str(memory_mb)]
        if target:
            argv += ["--target", target]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        cases, finding = 0, None
        assert proc.stdout is not None
        # The seeds are built before the first case: allow for that on top of one input.
        wait = hang + 60
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], wait)
            if not ready:
                finding = f"hang: one input ran longer than {hang:.0f}s"
                proc.kill()
                break
            line = proc.stdout.readline()
            if not line:  # the child ended
                code = proc.wait()
                if code != 0 and finding is None:
                    err = (proc.stderr.read() if proc.stderr else "").strip().splitlines()
                    finding = f"the reader process died (exit {code}): " + (
                        err[-1] if err else "no message")
                break
            word, _, rest = line.strip().partition(" ")
            wait = hang
            if word == "case":
                cases = int(rest)
            elif word == "fail":
                finding = rest.partition(" ")[2]
            elif word == "done":
                cases = int(rest)
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
        kept = None
        current = work / f"input{suffix}"
        if finding is not None and current.exists():
            target_dir = keep or Path(tempfile.mkdtemp(prefix="intune-fuzz-finding-"))
            target_dir.mkdir(parents=True, exist_ok=True)
            kept = target_dir / f"seed{seed}-case{cases}{suffix}"
            shutil.copyfile(current, kept)
        return Outcome(suffix, seed, cases, finding, kept)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per reader (default 60)")
    parser.add_argument("--type", dest="types", action="append", choices=SUFFIXES,
                        help="only this reader (repeatable; default: all)")
    parser.add_argument("--seed", type=int, default=None, help="default: from the clock")
    parser.add_argument("--hang", type=float, default=20.0, help="seconds one input may take")
    parser.add_argument("--memory-mb", type=int, default=512, help="address-space cap")
    parser.add_argument("--keep", type=Path, default=None,
                        help="where inputs behind findings are kept (default: a temp folder)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time())
    found = 0
    for suffix in args.types or SUFFIXES:
        outcome = fuzz(suffix, args.seconds, seed, hang=args.hang, memory_mb=args.memory_mb,
                       keep=args.keep)
        print(outcome.line(), flush=True)
        found += outcome.finding is not None
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
