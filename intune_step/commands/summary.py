"""The Markdown job summary of a run: one artifact as a card, several as a table."""

from __future__ import annotations

from collections.abc import Sequence

from intune_step.commands.failures import failure_line
from intune_step.publish.gate import GateStatus
from intune_step.publish.result import PublishResult, version_label
from intune_step.publish.several import Outcome


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def run_markdown(outcomes: Sequence[Outcome], several: bool, setting_name: str) -> str:
    """The summary of a list or pattern run, or of one path that was published."""
    result = outcomes[0].result
    if several or result is None:  # one failed path is reported as a failed run instead
        return several_markdown(outcomes, setting_name)
    return success_markdown(result, outcomes[0].meta.identity, setting_name)


def success_markdown(result: PublishResult, identity: str, setting_name: str) -> str:
    title = {"dry-run": "Intune dry run",
             "unchanged": "Already in Intune (unchanged)"}.get(result.operation,
                                                               "Published to Intune")
    rows = [
        ("App", result.display_name),
        ("Type", result.app_type),
        ("Identity", identity),
        ("Version", result.version),
        ("Operation", result.operation),
        ("App ID", result.app_id or "(none yet)"),
        ("Content version", result.content_version_id or "-"),
        ("File SHA-256", f"`{result.file_sha256}`" if result.file_sha256 else "-"),
        ("Setting", setting_name),
    ]
    lines = [f"### {title}", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in rows]
    if result.app_url:
        lines += ["", f"[View in Intune]({result.app_url})"]
    return "\n".join(lines) + "\n"


def several_markdown(outcomes: Sequence[Outcome], setting_name: str) -> str:
    failed = sum(1 for o in outcomes if o.error)
    dry = all(o.result is not None and o.result.operation == "dry-run" for o in outcomes)
    title = ("Intune dry run" if dry else "Published to Intune" if not failed
             else f"Intune publish: {failed} of {len(outcomes)} failed")
    lines = [f"### {title}", "",
             "| File | App | Type | Version | Operation | App ID |",
             "|---|---|---|---|---|---|"]
    for o in outcomes:
        if o.result is None:
            error = failure_line(o.error) if o.error else ""
            lines.append(f"| {_cell(o.file)} | | {o.meta.app_type} | {version_label(o.meta)} "
                         f"| failed: {_cell(error)} | |")
            continue
        r = o.result
        app = f"[{_cell(r.display_name)}]({r.app_url})" if r.app_url else _cell(r.display_name)
        lines.append(f"| {_cell(o.file)} | {app} | {r.app_type} | {_cell(r.version)} | "
                     f"{r.operation} | {r.app_id or '(none yet)'} |")
    lines += ["", f"Setting: {_cell(setting_name)}"]
    return "\n".join(lines) + "\n"


def failure_markdown(error_line: str, setting_name: str | None) -> str:
    lines = ["### Intune publish failed", "", _cell(error_line)]
    if setting_name:
        lines += ["", f"Setting: {_cell(setting_name)}"]
    return "\n".join(lines) + "\n"


def gate_markdown(status: GateStatus) -> str:
    """The install gate's verdict, counts and failing devices, for the job summary."""
    title = {"met": "Install gate met", "failed": "Install gate failed",
             "timed-out": "Install gate timed out"}.get(status.verdict, "Install gate")
    lines = [f"### {title}", "", f"Version {_cell(status.version)} after {status.elapsed:.0f}s "
             f"({status.reports} reports)", "",
             "| installed | failed | pending | not applicable | other versions | needed |",
             "|---|---|---|---|---|---|",
             f"| {status.installed} | {status.failed} | {status.pending} | "
             f"{status.not_applicable} | {status.other_versions} | {status.needed} |"]
    if status.failing:
        lines += ["", "| Failing device | User | Platform | Error code | Detail |",
                  "|---|---|---|---|---|"]
        lines += [f"| {_cell(r.device or r.device_id)} | {_cell(r.user)} | {_cell(r.platform)} "
                  f"| {_cell(r.error_code)} | {_cell(r.detail)} |" for r in status.failing[:50]]
        if len(status.failing) > 50:
            lines.append(f"\n...and {len(status.failing) - 50} more")
    return "\n".join(lines) + "\n"
