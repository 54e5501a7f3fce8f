"""The emulator in a process of its own, so the client's RSS and CPU are the client's alone.

Prints one JSON line (the client's environment) when ready and serves until stdin closes;
its blobs live in a temporary directory that goes with it.
"""

from __future__ import annotations

import json
import sys

from intune_step.emulator import Emulator, EmulatorConfig


def main() -> None:
    latency, bandwidth = float(sys.argv[1]), int(sys.argv[2])
    config = EmulatorConfig(blob_latency_s=latency, blob_bandwidth_bps=bandwidth or None)
    with Emulator(config) as emu:
        print(json.dumps(emu.env()), flush=True)
        sys.stdin.read()  # the harness closes our stdin when the publish is over


if __name__ == "__main__":
    main()
