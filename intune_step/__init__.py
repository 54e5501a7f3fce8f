"""intune-step: publish a build artifact and its metadata to Microsoft Intune.

The library call under the CLI and every CI entry (see docs/cli.md, "Scripting")::

    from intune_step import build_options, build_settings, publish_files

    settings = build_settings({"client-id": ..., "client-secret": ..., "auth-url": ...})
    outcomes = publish_files(settings, build_options({"file": "dist/app.ipa"}))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from intune_step.version import __version__

# Loaded on first use, so `import intune_step.emulator` (or the CLI's --help) stays light.
_EXPORTS = {
    "publish_files": "intune_step.publish.api",
    "install_status": "intune_step.publish.api",
    "GateBar": "intune_step.config.gate",
    "parse_gate": "intune_step.config.gate",
    "GateStatus": "intune_step.publish.gate",
    "publish_targets": "intune_step.publish.targets",  # one run, several tenants
    "Target": "intune_step.publish.targets",
    "TargetOutcome": "intune_step.publish.targets",
    "Outcome": "intune_step.publish.several",
    "PublishResult": "intune_step.publish.result",
    "Settings": "intune_step.config.settings",
    "build_settings": "intune_step.config.settings",
    "PublishOptions": "intune_step.config.options",
    "build_options": "intune_step.config.options",
    "Tuning": "intune_step.config.tuning",
    "Reporter": "intune_step.report",
    "LoggingReporter": "intune_step.report",
    "IntuneStepError": "intune_step.errors",
}
__all__ = ["GateBar", "GateStatus", "IntuneStepError", "LoggingReporter", "Outcome",
           "PublishOptions", "PublishResult", "Reporter", "Settings", "Target", "TargetOutcome",
           "Tuning", "__version__", "build_options", "build_settings", "install_status",
           "parse_gate", "publish_files", "publish_targets"]

if TYPE_CHECKING:
    from intune_step.config.gate import GateBar, parse_gate
    from intune_step.config.options import PublishOptions, build_options
    from intune_step.config.settings import Settings, build_settings
    from intune_step.config.tuning import Tuning
    from intune_step.errors import IntuneStepError
    from intune_step.publish.api import install_status, publish_files
    from intune_step.publish.gate import GateStatus
    from intune_step.publish.result import PublishResult
    from intune_step.publish.several import Outcome
    from intune_step.publish.targets import Target, TargetOutcome, publish_targets
    from intune_step.report import LoggingReporter, Reporter


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'intune_step' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
