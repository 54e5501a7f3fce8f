"""What one publish ends with: the app, its content version and where to see it."""

from __future__ import annotations

from dataclasses import dataclass

from intune_step.artifacts.base import AppMetadata
from intune_step.config.settings import Settings


@dataclass(frozen=True)
class PublishResult:
    """The app a publish left in Intune (commands/outputs.py names these for each CI)."""

    app_id: str
    content_version_id: str
    app_type: str
    operation: str  # created | updated | unchanged | dry-run
    version: str
    app_url: str
    file_sha256: str
    display_name: str
    plan: str = ""  # one line of JSON, dry runs only
    rings: str = ""  # published to a ring: the rings this build has reached, comma-separated


def app_url(settings: Settings, app_id: str) -> str:
    if settings.portal_url:
        return (f"{settings.portal_url}/#view/Microsoft_Intune_Apps/SettingsMenu/~/0/"
                f"appId/{app_id}")
    return f"{settings.graph_url}/{settings.graph_version}/deviceAppManagement/mobileApps/{app_id}"


def version_label(meta: AppMetadata) -> str:
    return meta.version if not meta.build or meta.build == meta.version else (
        f"{meta.version} ({meta.build})")
