"""The benchmark's cases, each in a process of its own: publishes (this project, the baseline,
optionally an earlier checkout of this project), the crypto floor and start-up.

Every publish gets a fresh emulator (bench/server.py) in yet another process, so peak RSS and
CPU read from wait4() belong to the case alone, and the emulator reports the Graph requests it
served and, with a timing, how late each state was seen.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
REPO = Path(__file__).resolve().parents[1]
# The settle of the creation check is a property of the service (how long a create takes to
# show in listings); the emulator answers each request atomically, so the bench uses what the
# e2e tests use (tests/e2e/conftest.py). docs/performance.md says what the default costs.
CLIENT_ENV = {"INTUNE_SETTING_NAME": "bench", "INTUNE_LOCK_SETTLE_S": "0.3"}


@dataclass
class Result:
    case: str
    size: int  # nominal
    file_bytes: int
    wall: float
    rss_kib: int
    cpu: float  # the case's own user + system seconds
    server_cpu: float | None = None  # the emulator's, for a publish
    error: str = ""
    requests: dict[str, int] = field(default_factory=dict)  # Graph requests by kind
    lateness: list[dict[str, Any]] = field(default_factory=list)

    @property
    def mib_s(self) -> float:
        return self.file_bytes / MiB / self.wall if self.wall else 0.0


@dataclass(frozen=True)
class Client:
    """A publishing command: this tree's CLI, the baseline, or another checkout's CLI."""

    case: str
    module: list[str]
    tree: Path = REPO

    def command(self, path: Path) -> list[str]:
        return [sys.executable, "-m", *self.module, str(path)]


def clients(before: Path | None) -> list[Client]:
    found = [
        Client("intune-step publish", ["intune_step", "publish"]),
        Client("baseline publish", ["bench.baseline"]),
    ]
    if before is not None:
        found.append(Client("intune-step before", ["intune_step", "publish"], before))
    return found


def _wait(proc: subprocess.Popen[Any]) -> tuple[int, resource.struct_rusage]:
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage


def run_measured(
    cmd: list[str], env: dict[str, str], log: Path, cwd: Path = REPO
) -> tuple[int, float, resource.struct_rusage]:
    """Run ``cmd`` to the end; (exit code, wall seconds, its own rusage). ``cwd`` matters:
    ``python -m`` imports from it before PYTHONPATH."""
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        code, usage = _wait(proc)
        return code, time.perf_counter() - started, usage


def child_env(extra: dict[str, str] | None = None, tree: Path = REPO) -> dict[str, str]:
    # No CI's markers: `intune-step publish` would take that CI's output format.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("INTUNE_", "GITHUB_", "GITLAB_", "TF_BUILD", "AC_APPCIRCLE"))}
    env.pop("SSL_CERT_DIR", None)
    env["PYTHONPATH"] = str(tree)
    env.update(extra or {})
    return env


class Server:
    """The emulator in its own process; ``cpu`` and ``report`` are filled in once stopped."""

    def __init__(self, latency_s: float, bandwidth: int, timing: str | None, log: Path) -> None:
        self.cpu = 0.0
        self.report: dict[str, Any] = {}
        self._log = log.open("wb")
        cmd = [sys.executable, "-m", "bench.server", str(latency_s), str(bandwidth)]
        self._proc = subprocess.Popen(
            cmd + ([timing] if timing else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=REPO,
            env=child_env(),
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError(f"the emulator did not start; see {log}")
        self.env: dict[str, str] = json.loads(line)

    def ask(self) -> dict[str, Any]:
        """The report so far (requests served, lateness)."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write("report\n")
        self._proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self._proc.stdout.readline())
        return answer

    def stop(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        if self._proc.stdout is not None:
            last = self._proc.stdout.read().strip().splitlines()
            self.report = json.loads(last[-1]) if last else {}
        _, usage = _wait(self._proc)
        self.cpu = usage.ru_utime + usage.ru_stime
        self._log.close()


@dataclass(frozen=True)
class Network:
    latency_s: float
    bandwidth: int  # bytes per second per connection; 0: unlimited


@contextmanager
def emulator(net: Network, timing: str | None, log: Path) -> Iterator[Server]:
    server = Server(net.latency_s, net.bandwidth, timing, log)
    try:
        yield server
    finally:
        server.stop()


def publish(
    client: Client,
    path: Path,
    size: int,
    net: Network,
    timing: str | None,
    workdir: Path,
    tag: str,
    again: bool = False,
) -> list[Result]:
    """One publish of ``path`` into a fresh emulator; ``again``: then a re-run of the same
    file into the same emulator (the unchanged re-run), as a second result."""
    results: list[Result] = []
    seen: dict[str, int] = {}
    with emulator(net, timing, workdir / f"{tag}.emulator.log") as server:
        env = child_env({**server.env, **CLIENT_ENV}, client.tree)
        for number in range(2 if again else 1):
            log = workdir / f"{tag}.{number}.log"
            code, wall, usage = run_measured(client.command(path), env, log, client.tree)
            result = Result(
                client.case,
                size,
                path.stat().st_size,
                wall,
                usage.ru_maxrss,
                usage.ru_utime + usage.ru_stime,
            )
            if code != 0:
                result.error = f"exit {code}, see {log}"
            report = server.ask()
            total = report.get("requests", {})
            result.requests = {
                k: n - seen.get(k, 0) for k, n in total.items() if n > seen.get(k, 0)
            }
            result.lateness = report.get("lateness", [])[
                len(results[0].lateness) if results else 0 :
            ]
            seen = dict(total)
            results.append(result)
    results[0].server_cpu = server.cpu
    return results


def openssl_enc(path: Path, size: int, workdir: Path) -> Result | None:
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cmd = [
        openssl,
        "enc",
        "-aes-256-cbc",
        "-K",
        secrets.token_hex(32),
        "-iv",
        secrets.token_hex(16),
        "-in",
        str(path),
        "-out",
        os.devnull,
    ]
    code, wall, usage = run_measured(cmd, child_env(), workdir / "openssl.log")
    result = Result(
        "openssl enc -aes-256-cbc",
        size,
        path.stat().st_size,
        wall,
        usage.ru_maxrss,
        usage.ru_utime + usage.ru_stime,
    )
    if code != 0:
        result.error = f"exit {code}"
    return result


def crypto_pass(path: Path, size: int, workdir: Path) -> Result:
    """The pass's own time, from inside the process (interpreter start-up left out)."""
    log = workdir / "cryptopass.log"
    code, _, usage = run_measured(
        [sys.executable, "-m", "bench.cryptopass", str(path)], child_env(), log
    )
    result = Result(
        "encrypt-and-digest pass",
        size,
        path.stat().st_size,
        0.0,
        usage.ru_maxrss,
        usage.ru_utime + usage.ru_stime,
    )
    if code != 0:
        result.error = f"exit {code}, see {log}"
        return result
    report = json.loads(log.read_text().strip().splitlines()[-1])
    result.wall = report["seconds"]
    return result


STARTUP_PROBE = """
import sys, time
started = time.perf_counter()
import intune_step.commands.cli, intune_step.commands.run
seconds = time.perf_counter() - started
heavy = sorted(m for m in ("yaml", "msal", "httpx", "cryptography.x509", "click")
               if m in sys.modules)
print(seconds, ",".join(heavy))
"""


@dataclass
class Startup:
    case: str
    bare: float  # python -c pass
    version: float  # python -m intune_step --version, whole process
    imports: float  # importing what a publish needs, in process
    loaded: str  # which heavy modules that pulls in


def startup(client: Client, rounds: int) -> Startup:
    """Medians over ``rounds``: the interpreter alone, ``--version``, and the publish path's
    imports (bytecode as the tree has it: a checkout's __pycache__, the image's compile)."""
    env = child_env(tree=client.tree)

    def wall(cmd: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(cmd, env=env, cwd=client.tree, capture_output=True, check=True)
        return time.perf_counter() - started

    bare = statistics.median(wall([sys.executable, "-c", "pass"]) for _ in range(rounds))
    version = statistics.median(
        wall([sys.executable, "-m", "intune_step", "--version"]) for _ in range(rounds)
    )
    probes = []
    loaded = ""
    for _ in range(rounds):
        out = subprocess.run(
            [sys.executable, "-c", STARTUP_PROBE],
            env=env,
            cwd=client.tree,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        probes.append(float(out[0]))
        loaded = out[1] if len(out) > 1 else ""
    return Startup(client.case, bare, version, statistics.median(probes), loaded)
