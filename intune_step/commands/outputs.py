"""The step's outputs, named once: what every CI host receives after a run."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from intune_step.artifacts.base import AppMetadata
from intune_step.config.options import PublishOptions
from intune_step.config.settings import Settings
from intune_step.publish.result import PublishResult, version_label
from intune_step.publish.several import Outcome, publish_several
from intune_step.report import Reporter

FIELDS = ("app-id", "content-version-id", "app-type", "operation", "version", "app-url",
          "file-sha256")



def run_outputs(outcomes: Sequence[Outcome]) -> dict[str, str]:
    """The step outputs of a list or pattern run (see the module docstring)."""
    results = [o.to_json() for o in outcomes]
    out = {name: json.dumps([o.result.outputs()[name] if o.result else "" for o in outcomes])
           for name in FIELDS}
    plans = [entry.get("plan") for entry in results]
    if any(plan is not None for plan in plans):
        out["plan"] = json.dumps(plans, separators=(",", ":"))
    out["results"] = json.dumps(results, separators=(",", ":"), ensure_ascii=False)
    return out



def exit_code(outcomes: Sequence[Outcome]) -> int:
    """0 when every artifact is published, else the first failed one's code."""
    return next((o.exit_code for o in outcomes if o.exit_code), 0)



def summary_markdown(outcomes: Sequence[Outcome], settings: Settings) -> str:
    failed = sum(1 for o in outcomes if o.error)
    dry = all(o.result is not None and o.result.operation == "dry-run" for o in outcomes)
    title = ("Intune dry run" if dry else "Published to Intune" if not failed
             else f"Intune publish: {failed} of {len(outcomes)} failed")
    lines = [f"### {title}", "",
             "| File | App | Type | Version | Operation | App ID |",
             "|---|---|---|---|---|---|"]
    for o in outcomes:
        if o.result is None:
            lines.append(f"| {_cell(o.file)} | | {o.meta.app_type} | {version_label(o.meta)} "
                         f"| failed: {_cell(o.error)} | |")
            continue
        r = o.result
        app = f"[{_cell(r.display_name)}]({r.app_url})" if r.app_url else _cell(r.display_name)
        lines.append(f"| {_cell(o.file)} | {app} | {r.app_type} | {_cell(r.version)} | "
                     f"{r.operation} | {r.app_id or '(none yet)'} |")
    lines += ["", f"Setting: {_cell(settings.setting_name)}"]
    return "\n".join(lines) + "\n"



def run_several(
    metas: Sequence[AppMetadata],
    options: PublishOptions,
    settings: Settings,
    host: Any,
    publish_one: Callable[[AppMetadata, PublishOptions, Reporter], PublishResult],
    workspace: Path | None = None,
    on_cancel: Callable[[], None] | None = None,
) -> int:
    """Publish several artifacts and report them through ``host`` (a CIHost); the exit code."""
    host.info(f"Publishing {len(metas)} artifacts, up to {options.max_parallel} at a time")
    outcomes = publish_several(metas, options, host, publish_one, workspace, on_cancel)
    host.set_outputs(run_outputs(outcomes))
    host.summary(summary_markdown(outcomes, settings))
    for outcome in outcomes:
        if outcome.error:
            host.error(f"{outcome.file}: {outcome.error}")
        elif outcome.result is not None and outcome.result.app_url:
            host.info(f"[{outcome.file}] View at: {outcome.result.app_url}")
    return exit_code(outcomes)



def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
