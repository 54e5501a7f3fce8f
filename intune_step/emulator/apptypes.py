"""The LOB app types the emulator creates, and the names around them (casts, targets).

What a body of each type may and must hold is schema.py's and requirements.py's.

See docs/protocol.md, "App types".
"""

from __future__ import annotations

from typing import Any

from .graph_common import HttpError

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


def validate_new_app(type_name: str, body: dict[str, Any], version: str = "beta") -> str | None:
    """The text of Graph's answer to a create body for ``type_name``, or None when it is
    accepted (for tests of the bodies the step builds)."""
    from . import requirements, schema  # here: requirements imports graph_common

    try:
        requirements.check_create(schema.model(version), type_name, body)
    except HttpError as exc:
        return exc.text
    return None


def validate_update(type_name: str, body: dict[str, Any], version: str = "beta") -> str | None:
    """The same for a PATCH body of an existing ``type_name`` app."""
    from . import requirements, schema

    try:
        requirements.check_patch(schema.model(version), type_name, body)
    except HttpError as exc:
        return exc.text
    return None
