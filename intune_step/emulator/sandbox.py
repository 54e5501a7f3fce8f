"""Run the emulator on its own, for trying the step by hand: prints the settings, waits."""

from __future__ import annotations

import argparse
import shlex
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType

from .config import EmulatorConfig
from .emulator import Emulator
from .timing import StateTiming


def _print(line: str) -> None:
    print(line, flush=True)  # flushed: a wrapper script may be reading the exports from a pipe


def run_sandbox(
    config: EmulatorConfig,
    out: Callable[[str], None] = _print,
    stop: threading.Event | None = None,
) -> None:
    """Start the emulator, print ``export`` lines for a shell, block until Ctrl-C (or ``stop``).

    SIGTERM (docker stop, timeout) ends the run like Ctrl-C, so a temporary state dir is
    removed; that handler is installed only when running on the main thread.
    """
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        _serve(config, out, stop)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _serve(
    config: EmulatorConfig, out: Callable[[str], None], stop: threading.Event | None
) -> None:
    with Emulator(config) as emu:
        out("# Intune emulator running. Paste these into your shell:")
        for name, value in emu.env().items():
            out(f"export {name}={shlex.quote(value)}")
        out(f"# tenant {emu.tenant_id}; blobs at {emu.azurite_url or emu.blob_url}")
        out("# Press Ctrl-C to stop.")
        waiter = stop or threading.Event()
        try:
            while not waiter.wait(0.5):
                pass
        except KeyboardInterrupt:
            out("# stopped")


def parse_args(argv: Sequence[str] | None = None) -> EmulatorConfig:
    parser = argparse.ArgumentParser(
        prog="python -m intune_step.emulator",
        description="A local Intune (Entra login, Graph, Azure Blob) over TLS.",
    )
    parser.add_argument("--port-login", type=int, default=0)
    parser.add_argument("--port-graph", type=int, default=0)
    parser.add_argument("--port-blob", type=int, default=0)
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="keeps ca.pem stable across runs"
    )
    parser.add_argument(
        "--azurite-url",
        default=None,
        help="use this Azurite blob endpoint (its certificate must come from the state dir CA)",
    )
    parser.add_argument(
        "--azurite", action="store_true", help="start Azurite from node_modules or PATH"
    )
    parser.add_argument("--tenant-id")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    parser.add_argument(
        "--timing",
        type=_timing,
        default=None,
        help="states complete after a delay instead of after one read: 'realistic', "
        "'at-once', or e.g. 'upload_uri=lognormal:2,0.5,commit=uniform:1,4,publish=2'",
    )
    args = parser.parse_args(argv)
    config = EmulatorConfig(
        login_port=args.port_login,
        graph_port=args.port_graph,
        blob_port=args.port_blob,
        state_dir=args.state_dir,
        tenant_id=args.tenant_id,
        client_id=args.client_id,
        client_secret=args.client_secret,
        timing=args.timing,
    )
    if args.azurite_url or args.azurite:
        config = replace(config, blob_backend="azurite", azurite_url=args.azurite_url)
    return config


def _timing(text: str) -> StateTiming:
    try:
        return StateTiming.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def main(argv: Sequence[str] | None = None) -> None:
    run_sandbox(parse_args(argv))


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
