"""The Markdown job summary of a run."""

from __future__ import annotations

from intune_step.artifacts.base import AppMetadata
from intune_step.config.settings import Settings
from intune_step.publish.result import PublishResult


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def success_markdown(result: PublishResult, meta: AppMetadata, settings: Settings) -> str:
    title = {"dry-run": "Intune dry run",
             "unchanged": "Already in Intune (unchanged)"}.get(result.operation,
                                                               "Published to Intune")
    rows = [
        ("App", result.display_name),
        ("Type", result.app_type),
        ("Identity", meta.identity),
        ("Version", result.version),
        ("Operation", result.operation),
        ("App ID", result.app_id or "(none yet)"),
        ("Content version", result.content_version_id or "-"),
        ("File SHA-256", f"`{result.file_sha256}`" if result.file_sha256 else "-"),
        ("Setting", settings.setting_name),
    ]
    lines = [f"### {title}", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in rows]
    if result.app_url:
        lines += ["", f"[View in Intune]({result.app_url})"]
    return "\n".join(lines) + "\n"


def failure_markdown(error_line: str, setting_name: str | None) -> str:
    lines = ["### Intune publish failed", "", _cell(error_line)]
    if setting_name:
        lines += ["", f"Setting: {_cell(setting_name)}"]
    return "\n".join(lines) + "\n"
