"""A run to several targets: its outputs, job summary and exit code, from the targets' ends.

Output names live in outputs.py; this module only shapes the ``targets`` map and picks the
flat outputs a run with one target keeps.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from intune_step.commands.failures import failure_line
from intune_step.commands.outputs import TARGETS_OUTPUT, step_outputs
from intune_step.commands.summary import _cell
from intune_step.errors import EXIT_NO_TARGET, EXIT_OK, EXIT_SOME_TARGETS
from intune_step.publish.several import Outcome
from intune_step.publish.targets import TargetOutcome


def targets_outputs(outcomes: Sequence[TargetOutcome]) -> dict[str, str]:
    """``targets``: name -> tenant, status, exit code, error and the usual outputs (lists as
    JSON lists); with one target its usual outputs flat as well, as a one-tenant run sets."""
    table: dict[str, dict[str, Any]] = {}
    for outcome in outcomes:
        target = outcome.target
        entry: dict[str, Any] = {"tenant": target.settings.tenant,
                                 "status": "succeeded" if outcome.succeeded else "failed",
                                 "exit-code": outcome.exit_code}
        if outcome.error is not None:
            entry["error"] = failure_line(outcome.error)
        elif outcome.outcomes:
            several = target.options.several
            usual = step_outputs(outcome.outcomes, several)
            for name, value in usual.items():
                entry[name] = json.loads(value) if several or name == "plan" else value
            if not several and outcome.outcomes[0].error is not None:
                entry["error"] = failure_line(outcome.outcomes[0].error)
        table[target.name] = entry
    out = {TARGETS_OUTPUT: json.dumps(table, separators=(",", ":"), ensure_ascii=False)}
    if len(outcomes) == 1 and outcomes[0].outcomes:
        out.update(step_outputs(outcomes[0].outcomes, outcomes[0].target.options.several))
    return out


def targets_exit_code(outcomes: Sequence[TargetOutcome]) -> int:
    """0 when every target succeeded, 4 when some did, 5 when none did (docs/faults.md)."""
    done = sum(1 for o in outcomes if o.succeeded)
    return EXIT_OK if done == len(outcomes) else EXIT_SOME_TARGETS if done else EXIT_NO_TARGET


def targets_markdown(outcomes: Sequence[TargetOutcome], group: str) -> str:
    """A row per target: its tenant, how it ended, and each artifact's operation."""
    failed = sum(1 for o in outcomes if not o.succeeded)
    title = ("Published to every target" if not failed else
             f"Intune publish: {failed} of {len(outcomes)} targets failed")
    lines = [f"### {title}", "", "| Target | Tenant | Result | Artifacts |", "|---|---|---|---|"]
    for outcome in outcomes:
        target = outcome.target
        if outcome.error is not None:
            result, artifacts = f"failed: {_cell(failure_line(outcome.error))}", ""
        else:
            result = "succeeded" if outcome.succeeded else "failed"
            artifacts = "; ".join(_artifact(o) for o in outcome.outcomes)
        lines.append(f"| {_cell(target.name)} | {_cell(target.settings.tenant)} | {result} | "
                     f"{artifacts} |")
    lines += ["", f"Setting: {_cell(group)}"]
    return "\n".join(lines) + "\n"


def _artifact(outcome: Outcome) -> str:
    if outcome.result is not None:
        link = outcome.result.app_url
        operation = f"[{outcome.result.operation}]({link})" if link else outcome.result.operation
        return f"{_cell(outcome.file)}: {operation}"
    error = failure_line(outcome.error) if outcome.error else ""
    return f"{_cell(outcome.file)}: failed: {_cell(error)}"

