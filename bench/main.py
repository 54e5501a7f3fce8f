"""bench/run: publish artifacts of several sizes into the emulator over a simulated network and
compare this project with the simplest sequential tool (bench/baseline.py), and optionally with
an earlier checkout of this project, in the same run and on the same simulated network.

Every case runs in a process of its own, the emulator in yet another, so the peak RSS and CPU
time read from wait4() belong to that case alone. Publishes alternate between the clients,
round by round, so a shared machine's load falls on all of them alike; medians are reported.
It prints Markdown tables and the issue's target ratios, and asserts nothing about speed: it
fails only if a publish fails.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from bench import report
from bench.artifacts import make_artifact
from bench.cases import (
    Client,
    Network,
    Result,
    Startup,
    clients,
    crypto_pass,
    openssl_enc,
    publish,
    startup,
)

MiB = 1024 * 1024
DEFAULT_SIZES = "4K,64M,512M,1G"
QUICK_SIZES = "4K,16M"
UNITS = {"": 1, "K": 1024, "M": MiB, "G": 1024 * MiB}
# The size cases use the emulator's default: each state is pending for the first read after
# the request that starts it and done by the next, as the issue measured. The lateness case
# plays the service's timing: seconds per state (emulator/timing.py).
SERVICE_TIMING: str | None = None
REALISTIC = "realistic"


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:i?B)?\s*", text.upper())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 64M, 1G)")
    return int(match.group(1)) * UNITS[match.group(2)]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir: Path = args.workdir
        self.net = Network(args.latency_ms / 1000, int(args.bandwidth_mib * MiB))
        self.clients = clients(args.before)
        if args.no_baseline:
            self.clients = [c for c in self.clients if c.case != "baseline publish"]
        self.results: list[Result] = []
        self.reruns: list[Result] = []
        self.realistic: list[Result] = []
        self.startups: list[Startup] = []

    def log(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def rounds_for(self, size: int) -> int:
        if self.args.rounds:
            return int(self.args.rounds)
        return 1 if self.args.quick or size > 64 * MiB else 5

    def measure_size(self, size: int) -> None:
        path = make_artifact(self.workdir, size, self.log)
        warm(path)
        label = report.size_label(size)
        if size >= MiB:
            crypto, floor = [], []
            for attempt in range(self.args.repeat):
                self.log(f"[{label}] crypto pass and openssl enc, round {attempt + 1}")
                crypto.append(crypto_pass(path, size, self.workdir))
                if (measured := openssl_enc(path, size, self.workdir)) is not None:
                    floor.append(measured)
            self.results += [report.best(floor)] if floor else []
            self.results.append(report.best(crypto))
        for number in range(self.rounds_for(size)):
            for client in self.clients:
                self.log(f"[{label}] {client.case}, round {number + 1}")
                tag = f"{client.case.replace(' ', '-')}-{label.replace(' ', '')}"
                first, *again = publish(client, path, size, self.net, SERVICE_TIMING,
                                        self.workdir, tag, again=size == self.smallest
                                        and number == 0 and client.case != "baseline publish")
                self.results.append(first)
                self.reruns += again
        if self.args.drop_artifacts:
            path.unlink(missing_ok=True)

    def measure_lateness(self) -> None:
        """A small publish against the service's realistic timing, per client."""
        size = self.smallest
        path = make_artifact(self.workdir, size, self.log)
        # --quick only checks the mode works, with the step alone.
        chosen = self.clients[:1] if self.args.quick else self.clients
        for number in range(self.args.lateness_rounds):
            for client in chosen:
                self.log(f"[lateness] {client.case}, round {number + 1}")
                tag = f"late-{client.case.replace(' ', '-')}"
                self.realistic += publish(client, path, size, self.net, REALISTIC,
                                          self.workdir, tag)

    def measure_startup(self) -> None:
        for client in self.clients:
            if client.module[0] == "intune_step":
                self.log(f"[start-up] {client.case}")
                self.startups.append(startup(client, 3 if self.args.quick else 7))

    @property
    def smallest(self) -> int:
        return min(self.sizes)

    def run(self, sizes: list[int]) -> list[str]:
        self.sizes = sizes
        load_before = os.getloadavg()
        started = time.monotonic()
        self.measure_startup()
        for size in sizes:
            self.measure_size(size)
        self.measure_lateness()
        elapsed = time.monotonic() - started
        return report.render(self, load_before[0], os.getloadavg()[0], elapsed)


def warm(path: Path) -> None:
    """Read the file once so every case starts from the page cache."""
    with path.open("rb", buffering=0) as handle:
        buffer = bytearray(4 * MiB)
        while handle.readinto(buffer):
            pass


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
    parser.add_argument("--rounds", type=int, default=None,
                        help="publishes per client and size; the median is reported "
                        "(default 5 up to 64 MiB, 1 above; 1 with --quick)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="rounds of the crypto cases; the best is kept (default 3)")
    parser.add_argument("--lateness-rounds", type=int, default=None,
                        help="publishes per client against realistic state timing "
                        "(default 3; 1 with --quick)")
    parser.add_argument("--before", type=Path, default=None,
                        help="also publish with the intune_step of this checkout "
                        "(e.g. a `git worktree add` of an earlier commit)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline publish")
    parser.add_argument("--drop-artifacts", action="store_true",
                        help="delete each size's artifact once measured (keeps /tmp small)")
    parser.add_argument("--workdir", type=Path,
                        default=Path(os.environ.get("TMPDIR", "/tmp")) / "intune-step-bench",
                        help="artifacts (kept for the next run) and logs")
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.lateness_rounds = args.lateness_rounds or (1 if args.quick else 3)
    sizes = [parse_size(s) for s in (args.sizes or (QUICK_SIZES if args.quick
                                                     else DEFAULT_SIZES)).split(",")]
    args.workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(args)
    print("\n".join(bench.run(sizes)))
    failed = [r for r in bench.results + bench.reruns + bench.realistic if r.error]
    if failed:
        sys.exit(f"{len(failed)} case(s) failed: " + "; ".join(
            f"{r.case} {report.size_label(r.size)}: {r.error}" for r in failed))


__all__ = ["Client", "main"]
