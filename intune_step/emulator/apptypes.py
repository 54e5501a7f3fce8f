"""The LOB app types the emulator knows, and what POST mobileApps requires of each.

See docs/protocol.md, "App types".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

PREFIX = "microsoft.graph."

LOB_TYPES = (
    "iosLobApp",
    "androidLobApp",
    "windowsMobileMSI",
    "windowsUniversalAppX",
    "win32LobApp",
    "macOSPkgApp",
    "macOSDmgApp",
    "macOSLobApp",
)
# Base casts the docs allow on content sub-resources.
BASE_CASTS = ("mobileLobApp", "managedMobileLobApp")
_BY_LOWER = {name.lower(): name for name in LOB_TYPES + BASE_CASTS + ("mobileApp", "managedApp")}

# Properties of microsoft.graph.mobileApp: the only ones $select/$filter accept on the collection.
BASE_PROPERTIES = frozenset(
    {
        "id",
        "displayName",
        "description",
        "publisher",
        "largeIcon",
        "createdDateTime",
        "lastModifiedDateTime",
        "isFeatured",
        "privacyInformationUrl",
        "informationUrl",
        "owner",
        "developer",
        "notes",
        "publishingState",
        "uploadState",
        "isAssigned",
        "roleScopeTagIds",
        "dependentAppCount",
        "supersedingAppCount",
        "supersededAppCount",
    }
)
BETA_ONLY = (
    "roleScopeTagIds",
    "uploadState",
    "isAssigned",
    "dependentAppCount",
    "supersedingAppCount",
    "supersededAppCount",
)
READ_ONLY = frozenset(
    {
        "id",
        "createdDateTime",
        "lastModifiedDateTime",
        "publishingState",
        "uploadState",
        "isAssigned",
        "dependentAppCount",
        "supersedingAppCount",
        "supersededAppCount",
        "size",
    }
)
INTENTS = ("available", "required", "uninstall", "availableWithoutEnrollment")
TARGET_TYPES = {
    "groupassignmenttarget": True,  # needs groupId
    "exclusiongroupassignmenttarget": True,
    "alllicensedusersassignmenttarget": False,
    "alldevicesassignmenttarget": False,
}


def canonical(odata_type: str | None) -> str | None:
    """``#microsoft.graph.IOSLOBApp`` → ``iosLobApp``; None when the name is unknown."""
    if not isinstance(odata_type, str):
        return None
    name = odata_type.lstrip("#")
    if name.lower().startswith(PREFIX):
        name = name[len(PREFIX) :]
    return _BY_LOWER.get(name.lower())


def odata(type_name: str) -> str:
    return f"#{PREFIX}{type_name}"


def cast_allowed(cast: str, app_type: str, strict: bool) -> bool:
    """May a content sub-resource of an ``app_type`` app be addressed through ``cast``?"""
    if cast == app_type or cast == "mobileLobApp":
        return True
    return not strict and (cast in LOB_TYPES or cast in BASE_CASTS)


# --- POST validation ---------------------------------------------------------------------


def _nonempty(body: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            return f"The property '{name}' is required and must be a non-empty string."
    return None


def _ios(body: dict[str, Any]) -> str | None:
    problem = _nonempty(body, "bundleId", "versionNumber", "buildNumber", "expirationDateTime")
    if problem:
        return problem
    try:
        expires = dt.datetime.fromisoformat(body["expirationDateTime"].replace("Z", "+00:00"))
    except ValueError:
        return "Cannot convert 'expirationDateTime' to the expected type 'Edm.DateTimeOffset'."
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    if expires <= dt.datetime.now(dt.UTC):
        return "The app's provisioning profile has expired (expirationDateTime is in the past)."
    return None


def _android(body: dict[str, Any]) -> str | None:
    problem = _nonempty(body, "packageId", "versionCode", "versionName")
    if problem:
        return problem
    if not re.fullmatch(r"\d+", body["versionCode"].strip()):
        return "The property 'versionCode' must be a string holding an integer."
    return None


_GUID = re.compile(r"\{?[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}?")


def _msi(body: dict[str, Any]) -> str | None:
    problem = _nonempty(body, "productCode", "productVersion")
    if problem:
        return problem
    if not _GUID.fullmatch(body["productCode"]):
        return "The property 'productCode' must be a GUID."
    return None


def _appx(body: dict[str, Any]) -> str | None:
    return _nonempty(body, "identityName", "identityVersion", "identityPublisherHash")


_RULE_TYPES = {
    "win32lobappfilesystemrule",
    "win32lobappregistryrule",
    "win32lobappproductcoderule",
    "win32lobapppowershellscriptrule",
}
_DETECTION_TYPES = {
    "win32lobappfilesystemdetection",
    "win32lobappregistrydetection",
    "win32lobappproductcodedetection",
    "win32lobapppowershellscriptdetection",
}


def _short(odata_type: Any) -> str:
    return str(odata_type or "").lstrip("#").lower().removeprefix(PREFIX)


def _win32(body: dict[str, Any]) -> str | None:
    problem = _nonempty(
        body, "fileName", "setupFilePath", "installCommandLine", "uninstallCommandLine"
    )
    if problem:
        return problem
    if "rules" in body and "detectionRules" in body:
        return "A Win32LobApp cannot have both 'rules' and 'detectionRules'."
    release = body.get("minimumSupportedWindowsRelease")
    if isinstance(release, str) and re.match(r"v\d+_", release):
        return f"The value '{release}' is not valid for 'minimumSupportedWindowsRelease'."
    rules = body.get("rules") if "rules" in body else body.get("detectionRules")
    if not isinstance(rules, list):
        rules = []
    legacy = "detectionRules" in body
    detection = []
    for rule in rules:
        if not isinstance(rule, dict):
            return "Each rule must be an object."
        kind = _short(rule.get("@odata.type"))
        if kind not in (_DETECTION_TYPES if legacy else _RULE_TYPES):
            return (
                f"ModelValidationFailure: the rule type '{rule.get('@odata.type')}' has a type "
                "name that is incompatible with the metadata."
            )
        if legacy or str(rule.get("ruleType", "")).lower() == "detection":
            detection.append(kind)
    if not detection:
        return "The Win32LobApp must have at least one detection rule specified."
    scripts = [k for k in detection if "powershellscript" in k]
    if scripts and len(detection) > 1:
        return "A PowerShell script detection rule cannot be combined with other detection rules."
    return None


def _macos(field: str) -> Callable[[dict[str, Any]], str | None]:
    return lambda body: _nonempty(body, field)


_VALIDATORS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "iosLobApp": _ios,
    "androidLobApp": _android,
    "windowsMobileMSI": _msi,
    "windowsUniversalAppX": _appx,
    "win32LobApp": _win32,
    "macOSPkgApp": _macos("primaryBundleId"),
    "macOSDmgApp": _macos("primaryBundleId"),
    "macOSLobApp": _macos("bundleId"),
}


def validate_min_os(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return "'minimumSupportedOperatingSystem' must be an object."
    flags = {k: v for k, v in value.items() if not k.startswith("@")}
    if any(not isinstance(v, bool) for v in flags.values()):
        return "'minimumSupportedOperatingSystem' flags must be booleans."
    if sum(1 for v in flags.values() if v) != 1:
        return "'minimumSupportedOperatingSystem' must have exactly one version set to true."
    return None


def validate_new_app(type_name: str, body: dict[str, Any]) -> str | None:
    """The first problem with a create body, as Intune would word it, or None."""
    problem = _nonempty(body, "displayName")
    return (
        problem
        or validate_min_os(body.get("minimumSupportedOperatingSystem"))
        or (_VALIDATORS[type_name](body))
    )
