"""The fuzzing child: feeds mutants to one reader until its time is up.

Runs in its own process so the parent can kill a hang and so RLIMIT_AS caps its memory: an
allocation past the cap raises MemoryError, which (like every exception other than our own
ArtifactError) is reported as a finding. Protocol on stdout, one line each, flushed:
``case N`` before each input, then ``done N`` or ``fail N <Type>: <message>``. The input
being read is always at ``<work>/input<suffix>``; the parent keeps it when a case fails or
hangs.
"""

from __future__ import annotations

import argparse
import importlib
import random
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from intune_step.errors import ArtifactError

from .mutators import mutate
from .seeds import seeds


def _target(spec: str) -> Callable[[Path], object]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.worker")
    parser.add_argument("--suffix", required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-mb", type=int, default=512)
    parser.add_argument("--target", default="intune_step.artifacts:read_artifact")
    args = parser.parse_args(argv)

    target = _target(args.target)
    pool = seeds(args.suffix)
    limit = args.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # after the seeds are built
    rng = random.Random(args.seed)
    path = args.work / f"input{args.suffix}"
    deadline = time.monotonic() + args.seconds
    count = 0
    while time.monotonic() < deadline:
        count += 1
        data = pool[count % len(pool)] if count <= len(pool) else mutate(rng, rng.choice(pool))
        path.write_bytes(data)
        print(f"case {count}", flush=True)
        try:
            target(path)
        except ArtifactError:
            pass
        except BaseException as exc:  # the finding: anything else escaped the reader
            where = traceback.extract_tb(exc.__traceback__)[-1]
            message = " ".join(str(exc).split())[:300]
            print(f"fail {count} {type(exc).__name__}: {message} at "
                  f"{where.filename}:{where.lineno}", flush=True)
            return 1
    print(f"done {count}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
