"""The emulator in a process of its own, so the client's RSS and CPU are the client's alone.

Run as: python -m bench.server LATENCY_S BANDWIDTH_BPS [TIMING]. TIMING is the emulator's
``--timing`` (``at-once``, ``realistic``, ...). Prints one JSON line (the client's environment)
when ready and serves until stdin closes. For each line read from stdin, and once more when
it closes, it prints the report so far: the Graph requests by kind and, with a timing, each
state's delay and lateness. Its blobs live in a temporary directory that goes with it.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from dataclasses import asdict

from intune_step.emulator import Emulator, EmulatorConfig, RequestRecord, StateTiming

_ID = re.compile(r"/(?:[0-9a-f]{8}-[0-9a-f-]{27}|\d+)(?=/|$)")


def kind(record: RequestRecord) -> str:
    """``GET mobileApps/{id}`` etc.: the request without ids, version or the type cast."""
    path = record.path.split("/deviceAppManagement/", 1)[-1]
    path = _ID.sub("/{id}", path)
    path = re.sub(r"/microsoft\.graph\.\w+", "", path)
    if record.query and "$select" in record.query:
        path += "?$select"
    return f"{record.method} {path}"


def main() -> None:
    latency, bandwidth = float(sys.argv[1]), int(sys.argv[2])
    timing = StateTiming.parse(sys.argv[3]) if len(sys.argv) > 3 else None
    config = EmulatorConfig(
        blob_latency_s=latency, blob_bandwidth_bps=bandwidth or None, timing=timing
    )
    with Emulator(config) as emu:
        print(json.dumps(emu.env()), flush=True)
        for _ in sys.stdin:  # the harness asks between publishes, and closes stdin at the end
            print(json.dumps(report(emu)), flush=True)
        print(json.dumps(report(emu)), flush=True)


def report(emu: Emulator) -> dict[str, object]:
    graph = [r for r in emu.request_log if r.service == "graph"]
    return {
        "requests": dict(Counter(kind(r) for r in graph)),
        "lateness": [asdict(x) for x in emu.lateness()],
    }


if __name__ == "__main__":
    main()
