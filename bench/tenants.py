"""bench/run tenants: N artifacts to M tenants in one run, against M separate runs.

Each case gets fresh emulated tenants (emulator/tenants.py) in a process of their own, and
publishes the same N small IPAs with the real CLI: once as one run whose named-settings entry
names the M tenants, once as M runs one after another, one per tenant (what a pipeline with
a step per tenant does). Each case publishes twice: first every app is created, then the
same run again finds every app unchanged. It reports, side by side, wall time, the client's
CPU time and peak RSS, Entra requests (discovery and sign-in), and Graph requests in all and
per publish (one artifact to one tenant), read from the emulators' request logs. It
measures; it asserts nothing about speed, and exits non-zero only when a publish fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.cases import REPO, _wait, child_env, run_measured
from bench.report import machine
from intune_step.emulator import EmulatorConfig, Tenants
from intune_step.samples.ipa import build_ipa


@dataclass
class Measured:
    case: str
    phase: str  # "create" or "re-run"
    wall: float
    cpu: float
    rss_kib: int
    counts: dict[str, int]  # requests per emulator service, over every tenant
    publishes: int
    error: str = ""

    @property
    def per_publish(self) -> float:
        return self.counts.get("graph", 0) / self.publishes


# -- the emulated tenants, in their own process -------------------------------------------
def serve(tenants: int, latency: float) -> None:
    """Print the tenants' settings as one JSON line, then answer each line read ("count")
    with the requests seen per service since the last one; stop at end of input."""
    config = EmulatorConfig(blob_latency_s=latency)
    with Tenants([config] * tenants) as running:
        print(json.dumps({"ca": str(running.ca_path), "tenants": [
            {"client-id": e.client_id, "secret": e.client_secret, "auth-url": e.auth_url,
             "graph-url": e.graph_url} for e in running]}), flush=True)
        before: Counter[str] = Counter()
        for _ in sys.stdin:  # asked between runs, when no request is in flight
            now = Counter(r.service for emu in running for r in emu.request_log)
            print(json.dumps(dict(now - before)), flush=True)
            before = now


class Server:
    def __init__(self, tenants: int, latency: float, log: Path) -> None:
        self._log = log.open("wb")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.tenants", "serve", str(tenants), str(latency)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, cwd=REPO,
            env=child_env(), text=True)
        assert self._proc.stdout is not None and self._proc.stdin is not None
        line = self._proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError(f"the emulated tenants did not start; see {log}")
        self.info = json.loads(line)

    def counts(self) -> dict[str, int]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write("count\n")
        self._proc.stdin.flush()
        counts: dict[str, int] = json.loads(self._proc.stdout.readline())
        return counts

    def stop(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        _wait(self._proc)
        self._log.close()


@contextmanager
def tenants_server(count: int, latency: float, log: Path) -> Iterator[Server]:
    server = Server(count, latency, log)
    try:
        yield server
    finally:
        server.stop()


# -- the cases ------------------------------------------------------------------------------
def settings_file(workdir: Path, info: dict[str, Any],
                  max_tenants: int) -> tuple[Path, dict[str, str]]:
    names = [f"tenant{i + 1}" for i in range(len(info["tenants"]))]
    settings: dict[str, object] = {}
    env = {"SSL_CERT_FILE": info["ca"], "INTUNE_STEP_ALLOWED_HOSTS": "127.0.0.1"}
    for name, tenant in zip(names, info["tenants"], strict=True):
        settings[name] = {"client-id": tenant["client-id"], "auth-url": tenant["auth-url"],
                          "graph-url": tenant["graph-url"],
                          "client-secret-env": f"SECRET_{name.upper()}"}
        env[f"SECRET_{name.upper()}"] = tenant["secret"]
    settings["everywhere"] = {"max-tenants": max_tenants, "targets": names}
    path = workdir / "intune-step.yml"
    path.write_text(yaml.safe_dump({"settings": settings}))
    return path, env


def measure(case: str, args: argparse.Namespace, runs: list[str], workdir: Path,
            artifacts: str) -> list[Measured]:
    """Publish with fresh tenants: the runs (setting names) one after another, twice."""
    out = []
    with tenants_server(args.tenants, args.latency_ms / 1000,
                        workdir / f"{case}.emulator.log") as server:
        path, extra = settings_file(workdir, server.info, args.max_tenants or args.tenants)
        env = child_env({**extra, "INTUNE_SETTINGS_FILE": str(path),
                          "INTUNE_MAX_PARALLEL": str(args.max_parallel)})
        for phase in ("create", "re-run"):
            server.counts()  # start from zero
            wall = cpu = 0.0
            rss = 0
            error = ""
            for index, name in enumerate(runs):
                log = workdir / f"{case}-{phase}-{index}.log"
                cmd = [sys.executable, "-m", "intune_step", "publish", artifacts,
                       "--setting-name", name]
                code, took, usage = run_measured(cmd, {**env, "INTUNE_SETTING_NAME": name}, log)
                wall += took
                cpu += usage.ru_utime + usage.ru_stime
                rss = max(rss, usage.ru_maxrss)
                if code != 0:
                    error = f"exit {code}, see {log}"
            out.append(Measured(case, phase, wall, cpu, rss, server.counts(),
                                args.artifacts * args.tenants, error))
    return out


def table(results: list[Measured]) -> list[str]:
    lines = ["| case | publish | wall s | client CPU s | peak RSS MiB | Entra requests "
             "| Graph requests | Graph requests per publish | blob requests |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        entra = r.counts.get("login", 0)
        lines.append(f"| {r.case} | {r.phase} | {r.wall:.2f} | {r.cpu:.2f} | "
                     f"{r.rss_kib / 1024:.0f} | {entra} | {r.counts.get('graph', 0)} | "
                     f"{r.per_publish:.1f} | {r.counts.get('blob', 0)} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["serve"]:
        serve(int(argv[1]), float(argv[2]))
        return
    parser = argparse.ArgumentParser(prog="bench/run tenants", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifacts", type=int, default=3, help="N artifacts (default 3)")
    parser.add_argument("--tenants", type=int, default=3, help="M tenants (default 3)")
    parser.add_argument("--size-kib", type=int, default=512,
                        help="padding of each IPA in KiB (default 512)")
    parser.add_argument("--max-tenants", type=int, default=None,
                        help="targets at once in the one run (default: M)")
    parser.add_argument("--max-parallel", type=int, default=3,
                        help="artifacts at once per tenant, both cases (default 3)")
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="added latency per blob request (default 20)")
    parser.add_argument("--workdir", type=Path,
                        default=Path(os.environ.get("TMPDIR", "/tmp")) / "intune-step-bench"
                        / "tenants", help="artifacts and logs")
    args = parser.parse_args(argv)
    workdir: Path = args.workdir
    (workdir / "dist").mkdir(parents=True, exist_ok=True)
    for old in (workdir / "dist").glob("*.ipa"):
        old.unlink()
    for i in range(args.artifacts):
        build_ipa(workdir / "dist" / f"app{i + 1}.ipa", bundle_id=f"com.bench.app{i + 1}",
                  padding_bytes=args.size_kib * 1024)
    artifacts = str(workdir / "dist" / "*.ipa")
    started = time.monotonic()
    results = measure("one run, M tenants", args, ["everywhere"], workdir, artifacts)
    results += measure("M separate runs", args, [f"tenant{i + 1}" for i in
                                                  range(args.tenants)], workdir, artifacts)
    one, separate = results[0], results[2]
    lines = [
        f"## intune-step: {args.artifacts} artifacts to {args.tenants} tenants",
        "",
        *(f"Machine: {m}" if i == 0 else f"Software: {m}" for i, m in enumerate(machine())),
        f"Artifacts: {args.artifacts} IPAs of {args.size_kib} KiB; blob latency "
        f"+{args.latency_ms:g} ms; max-parallel {args.max_parallel}; one run: max-tenants "
        f"{args.max_tenants or args.tenants}; took {time.monotonic() - started:.0f} s",
        "",
        *table(results),
        "",
        f"One run over M separate runs, first publish: wall x{one.wall / separate.wall:.2f}, "
        f"client CPU x{one.cpu / separate.cpu:.2f}; re-run: wall "
        f"x{results[1].wall / results[3].wall:.2f}, client CPU "
        f"x{results[1].cpu / results[3].cpu:.2f} (below 1: the one run is cheaper).",
    ]
    print("\n".join(lines))
    failed = [r for r in results if r.error]
    if failed:
        sys.exit(f"{len(failed)} case(s) failed: " + "; ".join(
            f"{r.case} {r.phase}: {r.error}" for r in failed))


if __name__ == "__main__":
    main()
