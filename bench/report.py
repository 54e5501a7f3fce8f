"""The benchmark's Markdown: the machine, the per-size table, the Graph requests per publish,
lateness, start-up, and the issue's targets as ratios from this run (nothing is asserted)."""

from __future__ import annotations

import os
import platform
import statistics
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.cases import Result

if TYPE_CHECKING:
    from bench.main import Bench

MiB = 1024 * 1024
OURS, BASE, BEFORE = "intune-step publish", "baseline publish", "intune-step before"


def size_label(size: int) -> str:
    for unit, factor in (("G", 1024 * MiB), ("M", MiB), ("K", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}iB"
    return f"{size} B"


def best(results: list[Result]) -> Result:
    good = [r for r in results if not r.error] or results
    return min(good, key=lambda r: r.wall)


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


def grouped(results: list[Result]) -> dict[tuple[int, str], list[Result]]:
    groups: dict[tuple[int, str], list[Result]] = defaultdict(list)
    for r in results:
        groups[(r.size, r.case)].append(r)
    return groups


def median_wall(results: list[Result]) -> float | None:
    good = [r.wall for r in results if not r.error]
    return statistics.median(good) if good else None


def size_table(results: list[Result]) -> list[str]:
    lines = [
        "| size | case | runs | median wall s | min-max s | MiB/s | peak RSS MiB | CPU s | "
        "emulator CPU s | Graph requests |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (size, case), runs in grouped(results).items():
        good = [r for r in runs if not r.error]
        if not good:
            lines.append(
                f"| {size_label(size)} | {case} | {len(runs)} | failed: "
                f"{runs[0].error} | | | | | | |"
            )
            continue
        wall = statistics.median(r.wall for r in good)
        cpu = statistics.median(r.cpu for r in good)
        rss = max(r.rss_kib for r in good) / 1024
        server = [r.server_cpu for r in good if r.server_cpu is not None]
        requests = [sum(r.requests.values()) for r in good if r.requests]
        lines.append(
            f"| {size_label(size)} | {case} | {len(good)} | {wall:.2f} | "
            f"{min(r.wall for r in good):.2f}-{max(r.wall for r in good):.2f} | "
            f"{good[0].file_bytes / MiB / wall:.0f} | {rss:.0f} | {cpu:.1f} | "
            f"{f'{statistics.median(server):.1f}' if server else ''} | "
            f"{f'{statistics.median(requests):g}' if requests else ''} |"
        )
    return lines


def requests_table(bench: Bench) -> list[str]:
    """Graph requests by kind: a first publish of the smallest IPA, and its unchanged re-run."""
    size = bench.smallest
    columns: list[tuple[str, dict[str, int]]] = []
    for case in (OURS, BEFORE, BASE):
        first = [r for r in bench.results if r.case == case and r.size == size and r.requests]
        if first:
            columns.append((f"{case}: first publish", first[0].requests))
        rerun = [r for r in bench.reruns if r.case == case]
        if rerun:
            columns.append((f"{case}: unchanged re-run", rerun[0].requests))
    if not columns:
        return []
    kinds = sorted(
        {k for _, counts in columns for k in counts}, key=lambda k: (k.split()[1], k.split()[0])
    )
    lines = [
        "| request | " + " | ".join(name for name, _ in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for kind in kinds:
        lines.append(f"| `{kind}` | " + " | ".join(str(c.get(kind, "")) for _, c in columns) + " |")
    lines.append("| **total** | " + " | ".join(f"**{sum(c.values())}**" for _, c in columns) + " |")
    return lines


def lateness_table(bench: Bench) -> list[str]:
    by_case: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    walls: dict[str, list[float]] = defaultdict(list)
    for r in bench.realistic:
        if r.error:
            continue
        walls[r.case].append(r.wall)
        for record in r.lateness:
            by_case[r.case][record["state"]].append(record["late"])
    if not by_case:
        return []
    states = ("upload_uri", "commit", "publish")
    lines = [
        "| case | publishes | median wall s | "
        + " | ".join(f"{s} mean / max late s" for s in states)
        + " | mean per wait s |",
        "|---|---:|---:|" + "---:|" * (len(states) + 1),
    ]
    for case, per_state in by_case.items():
        cells = []
        every: list[float] = []
        for state in states:
            values = per_state.get(state, [])
            every += values
            cells.append(
                f"{statistics.mean(values):.2f} / {max(values):.2f}" if values else "not waited for"
            )
        lines.append(
            f"| {case} | {len(walls[case])} | {statistics.median(walls[case]):.2f} | "
            + " | ".join(cells)
            + f" | {statistics.mean(every):.2f} |"
        )
    return lines


def startup_table(bench: Bench) -> list[str]:
    if not bench.startups:
        return []
    lines = [
        "| tree | `python -c pass` s | `intune-step --version` s | publish-path imports s "
        "| heavy modules loaded |",
        "|---|---:|---:|---:|---|",
    ]
    for s in bench.startups:
        lines.append(
            f"| {s.case} | {s.bare:.3f} | {s.version:.3f} | {s.imports:.3f} | "
            f"{s.loaded.replace(',', ', ')} |"
        )
    return lines


def targets(bench: Bench) -> list[str]:
    groups = grouped(bench.results)
    lines = []
    for size in bench.sizes:
        mine, base = (
            median_wall(groups.get((size, OURS), [])),
            median_wall(groups.get((size, BASE), [])),
        )
        if mine and base:
            ratio = base / mine
            if size >= 1024 * MiB:
                goal, met = ">= 4x", ratio >= 4
            else:
                goal, met = ">= 1x (judged at 4 KiB and 64 MiB)", ratio >= 1
            lines.append(
                f"- {size_label(size)}: baseline median / intune-step median = "
                f"{ratio:.2f}x (target {goal}) {_verdict(met)}"
            )
        before = median_wall(groups.get((size, BEFORE), []))
        if mine and before:
            lines.append(
                f"  - {size_label(size)}: before median / intune-step median = {before / mine:.2f}x"
            )
    # Blocks grow with the file up to 6 MiB (files of about 144 MiB), and the block pool with
    # them; from there on the peak must not grow with the file.
    sized = [s for s in bench.sizes if s >= 256 * MiB] or [s for s in bench.sizes if s >= MiB]
    if len(sized) >= 2:
        low, high = min(sized), max(sized)
        rss_low = max((r.rss_kib for r in groups.get((low, OURS), [])), default=0)
        rss_high = max((r.rss_kib for r in groups.get((high, OURS), [])), default=0)
        if rss_low and rss_high:
            lines.append(
                f"- peak RSS {size_label(high)} / {size_label(low)}: "
                f"{rss_high / rss_low:.2f}x, {rss_high / 1024:.0f} MiB "
                f"(target: flat, <= 1.10x) {_verdict(rss_high / rss_low <= 1.10)}"
            )
    first = [r for r in bench.results if r.case == OURS and r.size == bench.smallest and r.requests]
    if first:
        total = sum(first[0].requests.values())
        lines.append(
            f"- Graph requests, first publish of an iOS app: {total} (target <= 18) "
            f"{_verdict(total <= 18)}"
        )
    late = [rec["late"] for r in bench.realistic if r.case == OURS for rec in r.lateness]
    if late:
        mean = statistics.mean(late)
        lines.append(
            f"- mean lateness per wait, realistic timing: {mean:.2f} s (target <= 0.5 s)"
            f" {_verdict(mean <= 0.5)}"
        )
    return lines


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def render(bench: Bench, load_before: float, load_after: float, elapsed: float) -> list[str]:
    args: Any = bench.args
    sections = [
        "## intune-step benchmark",
        "",
        *(f"Machine: {m}" if i == 0 else f"Software: {m}" for i, m in enumerate(machine())),
        f"Network (emulator blob listener): +{args.latency_ms:g} ms per request, "
        f"{args.bandwidth_mib:g} MiB/s per connection; artifacts: IPA (iosLobApp), in page "
        "cache. Service timing: for the sizes, each state pending for one read (the emulator's "
        "default); for lateness, `--timing realistic` (seconds per state).",
        f"Load average before/after: {load_before:.2f} / {load_after:.2f}; "
        f"run took {elapsed:.0f} s",
        "",
        *size_table(bench.results),
        "",
        "Graph requests per publish (smallest size):",
        "",
        *requests_table(bench),
        "",
        "Lateness (time from a state completing to the client's read that shows it), "
        "realistic timing:",
        "",
        *lateness_table(bench),
        "",
        "Start-up (medians):",
        "",
        *startup_table(bench),
        "",
        "Targets, as ratios from this run:",
        *targets(bench),
    ]
    return sections
