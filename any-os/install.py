#!/usr/bin/env python3
"""Install intune-step for the any-OS action, with nothing taken on trust from the network.

Run by the action's install step with the Python that actions/setup-python gave it:

1. a private virtual environment under $RUNNER_TEMP (the user's own Python stays untouched);
2. every dependency from the hashed lock, ``--require-hashes --only-binary=:all:
   --no-deps``: pip refuses any file whose sha256 is not in the lock, and builds nothing;
3. the package itself from this checkout (the action's own ref), ``--no-deps --no-index
   --no-build-isolation``, built by the locked hatchling from step 2.

The venv's Python goes to the step output ``python``. A second use of the action in the same
job, at the same ref with the same lock, reuses the environment. Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ACTION = Path(__file__).resolve().parent
ROOT = ACTION.parent  # the repository at the action's ref
# The one place that names the hashed locks (pip's format, as pip-compile --generate-hashes
# writes it: `name==version \` then `--hash=sha256:...` lines); runtime and build backend.
LOCKS = (ACTION / "requirements-hashed.txt",)
READY = ".intune-step-ready"
PIP = ("-m", "pip", "install", "--no-input", "--disable-pip-version-check", "--quiet")


class LockError(Exception):
    pass


def requirements(text: str) -> dict[str, list[str]]:
    """``name==version`` -> its sha256 hashes; raises LockError for anything unpinned."""
    found: dict[str, list[str]] = {}
    for line in re.sub(r"\\\r?\n", " ", text).splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.!+_-]+", requirement):
            raise LockError(f"not pinned with ==: {line}")
        hashes = [o[len("--hash=sha256:") :] for o in options if o.startswith("--hash=sha256:")]
        if not hashes or len(hashes) != len(options):
            raise LockError(f"{requirement} has no sha256 hash (or another option)")
        found[requirement] = hashes
    if not found:
        raise LockError("the lock names no requirement")
    return found


def venv_python(venv: Path, windows: bool) -> Path:
    return venv / "Scripts" / "python.exe" if windows else venv / "bin" / "python"


def venv_dir(lock_text: str, temp: str | None) -> Path:
    """One environment per action checkout and locks: a re-run of the action reuses it."""
    key = hashlib.sha256(f"{ROOT}\n{lock_text}".encode()).hexdigest()[:16]
    return Path(temp or tempfile.gettempdir()) / f"intune-step-{key}"


def run(*command: str | Path) -> None:
    print("+ " + " ".join(str(part) for part in command), flush=True)
    subprocess.run([str(part) for part in command], check=True)


def set_output(name: str, value: str) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8", newline="") as handle:
            handle.write(f"{name}={value}\n")
    else:
        print(f"{name}={value}")


def install(venv: Path, python: Path) -> None:
    run(sys.executable, "-m", "venv", "--clear", venv)
    locks = [part for lock in LOCKS for part in ("-r", lock)]
    run(python, *PIP, "--require-hashes", "--only-binary=:all:", "--no-deps", *locks)
    run(python, *PIP, "--no-deps", "--no-index", "--no-build-isolation", ROOT)
    (venv / READY).write_text("ok\n", encoding="utf-8")


def main() -> int:
    texts = {lock.name: lock.read_text(encoding="utf-8") for lock in LOCKS}
    for name, text in texts.items():
        try:
            requirements(text)
        except LockError as exc:
            message = f"{name}: {exc} (only a hash-locked set is installed)"
            print(f"::error title=intune-step::{message}", flush=True)
            return 2
    lock_text = "\n".join(texts.values())
    venv = venv_dir(lock_text, os.environ.get("RUNNER_TEMP"))
    python = venv_python(venv, os.name == "nt")
    if (venv / READY).is_file() and python.is_file():
        print(f"intune-step is already installed in {venv}")
    else:
        install(venv, python)
    # Forward slashes: the next step's bash runs it, Git Bash on Windows included.
    set_output("python", python.as_posix())
    return 0


if __name__ == "__main__":
    sys.exit(main())
