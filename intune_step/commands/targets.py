"""Publish to every target of a named-settings entry: build each target's settings, run them
(publish/targets.py), then the one way out: outputs, summary, a line per target, the code."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from intune_step.ci.base import CIHost
from intune_step.commands.failures import failure_line
from intune_step.commands.target_outputs import (
    targets_exit_code,
    targets_markdown,
    targets_outputs,
)
from intune_step.config.options import build_options
from intune_step.config.settings import build_settings
from intune_step.config.targets import Targets
from intune_step.config.tuning import Tuning
from intune_step.publish.api import UploaderFactory
from intune_step.publish.targets import Target, publish_targets


def publish_to_targets(targets: Targets, host: CIHost, environ: Mapping[str, str],
                       workspace: Path, tuning: Tuning, *, uploader: UploaderFactory) -> int:
    # Every target's settings and inputs are checked before any network call.
    planned = [Target(t.name, build_settings(t.raw, environ), build_options(t.raw, workspace))
               for t in targets.targets]
    outcomes = publish_targets(planned, max_tenants=targets.max_tenants, reporter=host,
                               tuning=tuning, environ=environ, workspace=workspace,
                               uploader=uploader)
    host.set_outputs(targets_outputs(outcomes))
    host.summary(targets_markdown(outcomes, targets.group))
    for outcome in outcomes:
        name = outcome.target.name
        if outcome.error is not None:
            host.error(f"[{name}] {failure_line(outcome.error)}")
            continue
        for each in outcome.outcomes:
            if each.error is not None:
                host.error(f"[{name}] {each.file}: {failure_line(each.error)}")
            elif each.result is not None and each.result.app_url:
                host.info(f"[{name}] {each.file}: View at: {each.result.app_url}")
    done = sum(1 for o in outcomes if o.succeeded)
    host.info(f"{done} of {len(outcomes)} targets succeeded")
    return targets_exit_code(outcomes)
