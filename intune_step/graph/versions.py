"""Which Graph field carries each app type's comparable version, and comparing two of them.

Versions are compared as numbers, part by part ("1.10" is newer than "1.9"; "2.0" equals
"2.0.0"), never as strings. A value that is not dotted numbers cannot be ordered: the caller
then warns instead of refusing, since a wrong refusal would block every release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# The field Intune and the devices order builds by, first choice first. iOS devices compare
# CFBundleVersion (buildNumber); Android versionCode; Windows Installer ProductVersion; MSIX
# the package identity version; macOS PKG/DMG the primary bundle's version.
VERSION_FIELDS: dict[str, tuple[str, ...]] = {
    "iosLobApp": ("buildNumber", "versionNumber"),
    "androidLobApp": ("versionCode",),
    "windowsMobileMSI": ("productVersion",),
    "windowsUniversalAppX": ("identityVersion",),
    "macOSPkgApp": ("primaryBundleVersion",),
    "macOSDmgApp": ("primaryBundleVersion",),
    "macOSLobApp": ("buildNumber", "versionNumber"),
    "win32LobApp": ("displayVersion",),
}
_PART = re.compile(r"^\d{1,18}$")


def parse_version(text: str | int | None) -> tuple[int, ...] | None:
    """``"1.2.10"`` → (1, 2, 10); None when any part is not a plain number."""
    if text is None or isinstance(text, bool):
        return None
    parts = str(text).strip().split(".")
    if not parts or not all(_PART.match(p) for p in parts):
        return None
    numbers = [int(p) for p in parts]
    while len(numbers) > 1 and numbers[-1] == 0:  # 2.0 == 2.0.0
        numbers.pop()
    return tuple(numbers)


@dataclass(frozen=True)
class Comparison:
    field: str
    current: str
    new: str
    order: int | None  # -1 older, 0 same, 1 newer; None when the two cannot be ordered


def compare(app_type: str, current_app: dict[str, Any],
            new_properties: dict[str, Any]) -> Comparison | None:
    """Compare the first version field both sides have; None when neither has one."""
    for field in VERSION_FIELDS.get(app_type, ()):
        current, new = current_app.get(field), new_properties.get(field)
        if current in (None, "") or new in (None, ""):
            continue
        a, b = parse_version(current), parse_version(new)
        order = None if a is None or b is None else (b > a) - (b < a)
        return Comparison(field, str(current), str(new), order)
    return None
