"""bench/run: publish artifacts of several sizes into the emulator over a simulated network and
compare this project with the baseline the common tools follow and with the crypto floor.

Every case runs in a process of its own, the emulator in yet another, so the peak RSS and CPU
time read from wait4() belong to that case alone. It prints a Markdown table and the issue's
target ratios, and asserts nothing about speed: it fails only if a publish fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.artifacts import make_artifact

MiB = 1024 * 1024
DEFAULT_SIZES = "64M,256M,1G,4G"
QUICK_SIZES = "4M,16M"
REPO = Path(__file__).resolve().parents[1]
UNITS = {"": 1, "K": 1024, "M": MiB, "G": 1024 * MiB}


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:i?B)?\s*", text.upper())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 64M, 1G)")
    return int(match.group(1)) * UNITS[match.group(2)]


def size_label(size: int) -> str:
    for unit, factor in (("G", 1024 * MiB), ("M", MiB), ("K", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}iB"
    return f"{size} B"


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

    @property
    def mib_s(self) -> float:
        return self.file_bytes / MiB / self.wall if self.wall else 0.0


@dataclass
class Run:
    args: argparse.Namespace
    workdir: Path
    results: list[Result] = field(default_factory=list)

    def log(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)


def _wait(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> tuple[int, os.struct_rusage]:
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage


def run_measured(cmd: list[str], env: dict[str, str],
                 log: Path) -> tuple[int, float, os.struct_rusage]:
    """Run ``cmd`` to the end; (exit code, wall seconds, its own rusage)."""
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        code, usage = _wait(proc)
        return code, time.perf_counter() - started, usage


class Server:
    """The emulator in its own process; ``cpu`` is its user + system time once stopped."""

    def __init__(self, args: argparse.Namespace, log: Path) -> None:
        self.cpu = 0.0
        self._log = log.open("wb")
        bandwidth = int(args.bandwidth_mib * MiB)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.server", str(args.latency_ms / 1000), str(bandwidth)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, cwd=REPO,
            env=_child_env(), text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError(f"the emulator did not start; see {log}")
        self.env: dict[str, str] = json.loads(line)

    def stop(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        _, usage = _wait(self._proc)
        self.cpu = usage.ru_utime + usage.ru_stime
        self._log.close()


def _child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # No CI's markers: `intune-step publish` would take that CI's output format.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("INTUNE_", "GITHUB_", "GITLAB_", "TF_BUILD", "AC_APPCIRCLE"))}
    env.pop("SSL_CERT_DIR", None)
    env["PYTHONPATH"] = str(REPO)
    env.update(extra or {})
    return env


@contextmanager
def emulator(run: Run, tag: str) -> Iterator[Server]:
    server = Server(run.args, run.workdir / f"{tag}.emulator.log")
    try:
        yield server
    finally:
        server.stop()


# -- the cases ----------------------------------------------------------------------------
def publish_case(run: Run, case: str, cmd: list[str], path: Path, size: int) -> Result:
    tag = f"{case}-{size_label(size).replace(' ', '')}"
    log = run.workdir / f"{tag}.log"
    with emulator(run, tag) as server:
        env = _child_env({**server.env, "INTUNE_SETTING_NAME": "bench"})
        code, wall, usage = run_measured(cmd, env, log)
    result = Result(case, size, path.stat().st_size, wall, usage.ru_maxrss,
                    usage.ru_utime + usage.ru_stime, server.cpu)
    if code != 0:
        result.error = f"exit {code}, see {log}"
    return result


def project(run: Run, path: Path, size: int) -> Result:
    cmd = [sys.executable, "-m", "intune_step", "publish", str(path)]
    return publish_case(run, "intune-step publish", cmd, path, size)


def baseline(run: Run, path: Path, size: int) -> Result:
    cmd = [sys.executable, "-m", "bench.baseline", str(path)]
    return publish_case(run, "baseline publish", cmd, path, size)


def openssl_enc(run: Run, path: Path, size: int) -> Result | None:
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cmd = [openssl, "enc", "-aes-256-cbc", "-K", secrets.token_hex(32),
           "-iv", secrets.token_hex(16), "-in", str(path), "-out", os.devnull]
    code, wall, usage = run_measured(cmd, _child_env(), run.workdir / "openssl.log")
    result = Result("openssl enc -aes-256-cbc", size, path.stat().st_size, wall,
                    usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
    if code != 0:
        result.error = f"exit {code}"
    return result


def crypto_pass(run: Run, path: Path, size: int) -> Result:
    """The pass's own time, from inside the process (interpreter start-up left out)."""
    log = run.workdir / "cryptopass.log"
    code, _, usage = run_measured([sys.executable, "-m", "bench.cryptopass", str(path)],
                                  _child_env(), log)
    result = Result("encrypt-and-digest pass", size, path.stat().st_size, 0.0,
                    usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
    if code != 0:
        result.error = f"exit {code}, see {log}"
        return result
    report = json.loads(log.read_text().strip().splitlines()[-1])
    result.wall = report["seconds"]
    return result


def best(results: list[Result]) -> Result:
    good = [r for r in results if not r.error] or results
    return min(good, key=lambda r: r.wall)


def warm(path: Path) -> None:
    """Read the file once so every case starts from the page cache."""
    with path.open("rb", buffering=0) as handle:
        buffer = bytearray(4 * MiB)
        while handle.readinto(buffer):
            pass


def measure_size(run: Run, size: int) -> None:
    path = make_artifact(run.workdir, size, run.log)
    warm(path)
    label = size_label(size)
    crypto, floor = [], []
    for attempt in range(run.args.repeat):
        run.log(f"[{label}] crypto pass and openssl enc, round {attempt + 1}")
        crypto.append(crypto_pass(run, path, size))
        if (measured := openssl_enc(run, path, size)) is not None:
            floor.append(measured)
    if floor:
        run.results.append(best(floor))
    run.results.append(best(crypto))
    run.log(f"[{label}] intune-step publish")
    run.results.append(project(run, path, size))
    if not run.args.no_baseline:
        run.log(f"[{label}] baseline publish")
        run.results.append(baseline(run, path, size))


# -- the report ---------------------------------------------------------------------------
def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{mem_kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        memory = "RAM unknown"
    import ssl

    import cryptography

    return [
        f"{cpu}, {os.cpu_count()} cores, {memory}, {platform.system()} {platform.release()}",
        f"Python {platform.python_version()}, {ssl.OPENSSL_VERSION}, "
        f"cryptography {cryptography.__version__}",
    ]


def table(results: list[Result]) -> list[str]:
    lines = [
        "| size | case | wall s | MiB/s | peak RSS MiB | CPU s | emulator CPU s |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        server = f"{r.server_cpu:.1f}" if r.server_cpu is not None else ""
        if r.error:
            lines.append(f"| {size_label(r.size)} | {r.case} | failed: {r.error} | | | | |")
            continue
        lines.append(f"| {size_label(r.size)} | {r.case} | {r.wall:.2f} | {r.mib_s:.0f} | "
                     f"{r.rss_kib / 1024:.0f} | {r.cpu:.1f} | {server} |")
    return lines


def _find(results: list[Result], case: str, size: int) -> Result | None:
    for r in results:
        if r.case == case and r.size == size and not r.error:
            return r
    return None


def targets(results: list[Result], sizes: list[int]) -> list[str]:
    """The issue's targets as ratios from this run (informational: nothing is asserted).

    They are judged at the sizes the issue names (1 GiB; 256 MiB against the largest of at
    least 1 GiB); a run without those sizes (--quick) says so instead of failing them."""
    lines = []
    big_enough = [s for s in sizes if s >= 1024 * MiB]
    at = 1024 * MiB if 1024 * MiB in sizes else (min(big_enough) if big_enough else None)
    if at is None:
        lines.append("- not judged: no case of 1 GiB or more (bench/run without --quick)")
    else:
        crypto = _find(results, "encrypt-and-digest pass", at)
        floor = _find(results, "openssl enc -aes-256-cbc", at)
        if crypto and floor:
            ratio = crypto.mib_s / floor.mib_s
            lines.append(f"- encrypt-and-digest pass / openssl enc at {size_label(at)}: "
                         f"{ratio:.2f}x (target >= 0.75x) {_verdict(ratio >= 0.75)}")
        mine = _find(results, "intune-step publish", at)
        base = _find(results, "baseline publish", at)
        if mine and base:
            ratio = base.wall / mine.wall
            lines.append(f"- publish {size_label(at)}, baseline wall / intune-step wall: "
                         f"{ratio:.1f}x (target >= 4x) {_verdict(ratio >= 4)}")
    small, big = 256 * MiB, max(sizes)
    low = _find(results, "intune-step publish", small)
    high = _find(results, "intune-step publish", big)
    if low and high and big >= 1024 * MiB:
        growth, peak = high.rss_kib / low.rss_kib, high.rss_kib / 1024
        lines.append(f"- peak RSS {size_label(big)} / {size_label(small)}: {growth:.2f}x "
                     f"(target <= 1.10x), {size_label(big)} peak {peak:.0f} MiB "
                     f"(target < 160 MiB) {_verdict(growth <= 1.10 and peak < 160)}")
    for r in results:
        if r.server_cpu is not None and not r.error and r.size == (at or max(sizes)):
            busy = (r.cpu + r.server_cpu) / r.wall
            lines.append(f"- {r.case} {size_label(r.size)}: client {r.cpu:.1f} s + emulator "
                         f"{r.server_cpu:.1f} s CPU in {r.wall:.1f} s = {busy:.2f} of "
                         f"{os.cpu_count()} cores busy")
    return lines


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=None,
                        help=f"comma-separated artifact sizes (default {DEFAULT_SIZES})")
    parser.add_argument("--quick", action="store_true",
                        help=f"the CI mode: sizes {QUICK_SIZES}, one round")
    parser.add_argument("--latency-ms", type=float, default=50.0,
                        help="added latency per blob request (default 50)")
    parser.add_argument("--bandwidth-mib", type=float, default=25.0,
                        help="bandwidth cap per blob connection in MiB/s (default 25)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="rounds of the crypto cases; the best is kept (default 3)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline publish")
    parser.add_argument("--workdir", type=Path,
                        default=Path(os.environ.get("TMPDIR", "/tmp")) / "intune-step-bench",
                        help="artifacts (kept for the next run) and logs")
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 3)
    sizes = [parse_size(s) for s in (args.sizes or (QUICK_SIZES if args.quick
                                                     else DEFAULT_SIZES)).split(",")]
    args.workdir.mkdir(parents=True, exist_ok=True)
    run = Run(args, args.workdir)
    load_before = os.getloadavg()
    started = time.monotonic()
    for size in sizes:
        measure_size(run, size)
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()
    lines = [
        "## intune-step upload benchmark",
        "",
        *(f"Machine: {m}" if i == 0 else f"Software: {m}" for i, m in enumerate(machine())),
        f"Network (emulator blob listener): +{args.latency_ms:g} ms per request, "
        f"{args.bandwidth_mib:g} MiB/s per connection; artifacts: IPA (iosLobApp), in page "
        "cache",
        f"Load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f}; "
        f"run took {elapsed:.0f} s",
        "",
        *table(run.results),
        "",
        "Targets, as ratios from this run:",
        *targets(run.results, sizes),
    ]
    print("\n".join(lines))
    failed = [r for r in run.results if r.error]
    if failed:
        sys.exit(f"{len(failed)} case(s) failed: " + "; ".join(
            f"{r.case} {size_label(r.size)}: {r.error}" for r in failed))
