"""The CI entry point: find the host, read its inputs and run the step.

One command for every CI: ``python -m intune_step.commands.ci_entry`` (GitHub runs it through
entrypoint.py). ``--ci NAME`` or INTUNE_STEP_CI overrides the detected host.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from intune_step import __version__
from intune_step.ci import HOST_NAMES, detect_host
from intune_step.ci.base import CIHost
from intune_step.ci.local import LocalHost
from intune_step.commands.run import SECRET_INPUTS, run_publish
from intune_step.config.action import input_names
from intune_step.errors import IntuneStepError


def run_ci(host: CIHost | None = None, environ: Mapping[str, str] | None = None,
           override: str | None = None) -> int:
    """Run the step as the CI host's job would; returns the exit code."""
    env = os.environ if environ is None else environ
    if host is None:
        try:
            host = detect_host(env, override)
        except IntuneStepError as exc:  # a bad override: say so plainly, before anything else
            LocalHost(environ=env).error(f"{type(exc).__name__}: {exc.one_line()}")
            return exc.exit_code
    raw = host.read_inputs(input_names())
    for name in SECRET_INPUTS:  # masked the moment they are read, before any line is printed
        if raw.get(name):
            host.mask(str(raw[name]))
    _describe(host, raw)
    return run_publish(raw, host, host.workspace())


def _describe(host: CIHost, raw: Mapping[str, str | None]) -> None:
    """Say which CI we think this is and where each input came from (never its value)."""
    why = f" ({host.detected_by})" if host.detected_by else ""
    with host.group(f"intune-step {__version__} on {host.title}{why}"):
        given = [name for name in raw if raw[name] is not None]
        for name in given:
            host.info(f"{name}: from {host.input_sources.get(name, 'the caller')}")
        if not given:
            host.info("no inputs were found")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m intune_step.commands.ci_entry",
        description="Publish to Intune with the inputs of the CI this runs in.")
    parser.add_argument("--ci", choices=[*HOST_NAMES, "auto"], default=None,
                        help="the CI host (default: detect it; env INTUNE_STEP_CI)")
    args = parser.parse_args(argv)
    return run_ci(override=args.ci)


if __name__ == "__main__":
    sys.exit(main())
