"""The app-type inputs: what the file cannot say, or says wrongly, parsed and checked.

bundle-id, macos-app-type and the ``properties`` escape hatch (Graph fields merged over the
app body last). Applying them to the artifact is ``publish/prepare.py``'s work.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from intune_step.config.yamlinput import load_mapping
from intune_step.errors import SettingsError

MACOS_APP_TYPES = {"pkg": "macOSPkgApp", "lob": "macOSLobApp"}
# Body keys the publish flow owns: overriding them would break it or mean nothing.
OWNED_PROPERTIES = {
    "@odata.type": "the app type follows from the file (and macos-app-type for a .pkg)",
    "id": "Intune assigns it",
    "committedContentVersion": "the step sets it once the upload is committed",
}
BUNDLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,254}$")  # CFBundleIdentifier's characters


def parse_bundle_id(bundle_id: str | None) -> str | None:
    if bundle_id is not None and not BUNDLE_ID.match(bundle_id):
        raise SettingsError(f"bundle-id {bundle_id!r} is not a bundle identifier",
                            fix="use the app's CFBundleIdentifier, e.g. com.contoso.app")
    return bundle_id


def parse_properties(text: str | None, workspace: Path | None = None) -> dict[str, Any]:
    """The ``properties`` input: Graph fields merged over the app body, key by key."""
    data = load_mapping("properties", text, workspace) or {}
    for key in data:
        if key in OWNED_PROPERTIES:
            raise SettingsError(f"properties cannot set {key}: {OWNED_PROPERTIES[key]}",
                                fix=f"remove {key} from properties")
    return data


def parse_macos_app_type(value: str | None) -> str:
    choice = (value or "pkg").strip().lower()
    if choice not in MACOS_APP_TYPES:
        raise SettingsError(f"macos-app-type must be pkg or lob, not {value!r}",
                            fix="use pkg (macOSPkgApp, the default) or lob (macOSLobApp)")
    return choice


