"""The step's outputs, named once here for every CI host, from the run's outcomes.

One path in ``file``: the plain outputs of its publish (none when it failed). A list or a
pattern, however many files it matches: every output holds a JSON list of that field in file
order ("" for a failed file), and ``results`` one object per artifact.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from intune_step.commands.failures import failure_line
from intune_step.publish.gate import GateStatus
from intune_step.publish.promote import PromoteResult
from intune_step.publish.result import PublishResult
from intune_step.publish.rollback import RollbackResult
from intune_step.publish.several import Outcome

FIELDS = ("app-id", "content-version-id", "app-type", "operation", "version", "app-url",
          "file-sha256")
GATE_FIELDS = ("installed", "failed", "pending", "not-applicable", "gate")


def gate_outputs(status: GateStatus | None) -> dict[str, str]:
    """The install gate's counts and verdict (none when the gate did not run)."""
    if status is None:
        return {}
    return {"installed": str(status.installed), "failed": str(status.failed),
            "pending": str(status.pending), "not-applicable": str(status.not_applicable),
            "gate": status.verdict}


TARGETS_OUTPUT = "targets"  # a run to several targets: the map of each one's outputs


def result_outputs(result: PublishResult) -> dict[str, str]:
    """One publish's outputs under their action.yml names (``plan`` for dry runs only,
    ``rings`` when published to a ring)."""
    out = {
        "app-id": result.app_id,
        "content-version-id": result.content_version_id,
        "app-type": result.app_type,
        "operation": result.operation,
        "version": result.version,
        "app-url": result.app_url,
        "file-sha256": result.file_sha256,
    }
    if result.plan:
        out["plan"] = result.plan
    if result.rings:
        out["rings"] = result.rings
    return out


def step_outputs(outcomes: Sequence[Outcome], several: bool) -> dict[str, str]:
    """What the step hands its CI (see the module docstring)."""
    if not several:
        result = outcomes[0].result
        out = result_outputs(result) if result is not None else {}
        return {**out, **gate_outputs(outcomes[0].gate)}
    each = [result_outputs(o.result) if o.result else None for o in outcomes]
    out = {name: json.dumps([fields[name] if fields else "" for fields in each])
           for name in FIELDS}
    results = [_result_entry(o, fields) for o, fields in zip(outcomes, each, strict=True)]
    plans = [entry.get("plan") for entry in results]
    if any(plan is not None for plan in plans):
        out["plan"] = json.dumps(plans, separators=(",", ":"))
    rings = [fields.get("rings", "") if fields else "" for fields in each]
    if any(rings):
        out["rings"] = json.dumps(rings)
    if any(o.gate is not None for o in outcomes):
        gates = [gate_outputs(o.gate) for o in outcomes]
        out.update({name: json.dumps([g.get(name, "") for g in gates]) for name in GATE_FIELDS})
    out["results"] = json.dumps(results, separators=(",", ":"), ensure_ascii=False)
    return out


def _result_entry(outcome: Outcome, fields: dict[str, str] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"file": outcome.file}
    if outcome.error is not None:
        entry["error"] = failure_line(outcome.error)
    if fields is None:
        entry["error"] = failure_line(outcome.error) if outcome.error else ""
        return entry
    entry.update(fields)
    entry.update(gate_outputs(outcome.gate))
    if "plan" in entry:
        entry["plan"] = json.loads(entry["plan"])
    return entry


def run_exit_code(outcomes: Sequence[Outcome]) -> int:
    """0 when every artifact is published, else the first failed one's code (input order)."""
    return next((o.exit_code for o in outcomes if o.exit_code), 0)


def rollback_outputs(result: RollbackResult) -> dict[str, str]:
    """A rollback's outputs: the version that holds the assignments now, and what happened."""
    return {"app-id": result.app_id, "operation": result.operation}


def promote_outputs(result: PromoteResult) -> dict[str, str]:
    """A promotion's outputs: the app, what happened, the rings reached (and a dry run's plan)."""
    out = {"app-id": result.app_id, "operation": result.operation,
           "rings": ",".join(result.rings)}
    if result.plan:
        out["plan"] = result.plan
    return out
