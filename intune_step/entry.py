"""The CI entry point: read the host's inputs and run the step."""

from __future__ import annotations

import os
from pathlib import Path

from intune_step.app import run_publish
from intune_step.ci import detect_host
from intune_step.ci.base import CIHost
from intune_step.resources import input_names


def run_ci(host: CIHost | None = None) -> int:
    host = host or detect_host()
    raw = host.read_inputs(input_names())
    workspace = os.environ.get("GITHUB_WORKSPACE") or os.getcwd()
    return run_publish(raw, host, Path(workspace))
