"""The Graph fields every macOS package type shares: the primary app and the included apps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

INCLUDED_APP_TYPE = "#microsoft.graph.macOSIncludedApp"


class BundleApp(Protocol):
    """An app a macOS package installs; read-only, so frozen dataclasses and properties fit."""

    @property
    def bundle_id(self) -> str: ...

    @property
    def display_version(self) -> str: ...


def bundle_properties(apps: Sequence[BundleApp]) -> dict[str, Any]:
    """primaryBundleId/Version from the first app, includedApps from all of them."""
    primary = apps[0]
    return {
        "primaryBundleId": primary.bundle_id,
        "primaryBundleVersion": primary.display_version,
        "includedApps": [
            {"@odata.type": INCLUDED_APP_TYPE, "bundleId": app.bundle_id,
             "bundleVersion": app.display_version}
            for app in apps
        ],
    }
