"""The CI entry: find the host, read its inputs and run the step (`intune-step ci`).

GitHub runs it through entrypoint.py; GitLab, Azure DevOps, Appcircle and a terminal through
``intune-step ci`` or ``python -m intune_step.entry``. ``--ci NAME`` or INTUNE_STEP_CI
overrides the detected host.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from intune_step.ci import detect_host
from intune_step.ci.base import CIHost
from intune_step.ci.local import LocalHost
from intune_step.commands.console import safe_console
from intune_step.commands.failures import exit_code, failure_line
from intune_step.commands.run import mask_secret_inputs, run_promote, run_publish
from intune_step.config.action import input_names
from intune_step.errors import IntuneStepError
from intune_step.version import __version__


def run_ci(host: CIHost | None = None, environ: Mapping[str, str] | None = None,
           override: str | None = None) -> int:
    """Run the step as the CI host's job would; returns the exit code."""
    safe_console()  # a non-ASCII name must not crash a Windows runner's cp1252 pipe
    env = os.environ if environ is None else environ
    if host is None:
        try:
            host = detect_host(env, override)
        except IntuneStepError as exc:  # a bad override: say so plainly, before anything else
            LocalHost(environ=env).error(failure_line(exc))
            return exit_code(exc)
    raw = host.read_inputs(input_names())
    mask_secret_inputs(raw, host)  # the moment they are read, before any line is printed
    _describe(host, raw)
    if (raw.get("promote-to") or "").strip():  # the action promotes instead of publishing
        return run_promote(raw, host, host.workspace(), env)
    return run_publish(raw, host, host.workspace(), env)


def _describe(host: CIHost, raw: Mapping[str, str | None]) -> None:
    """Say which CI we think this is and where each input came from (never its value)."""
    why = f" ({host.detected_by})" if host.detected_by else ""
    with host.group(f"intune-step {__version__} on {host.title}{why}"):
        given = [name for name in raw if raw[name] is not None]
        for name in given:
            host.info(f"{name}: from {host.input_sources.get(name, 'the caller')}")
        if not given:
            host.info("no inputs were found")
