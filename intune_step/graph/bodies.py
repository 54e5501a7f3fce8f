"""Graph request bodies built from the artifact's metadata and the user's overrides.

Per type (docs/protocol.md, "App types"): the readers put the fields read from the file into
``meta.properties`` (MSI product code, MSIX identity, macOS bundles, Detection.xml's setup
file and MSI facts); win32.py adds what no file holds (command lines, rules, return codes);
the minimum-OS flag comes from the file's minimum through minos.py's table for the Graph
version in use. The ``properties`` input is merged last, key by key.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from intune_step.artifacts.base import AppMetadata, MinimumOs, Platform
from intune_step.artifacts.minos import TABLES, minimum_os_flags, odata_type
from intune_step.config.options import PublishOptions
from intune_step.config.settings import DEFAULT_SETTING_NAME, Settings
from intune_step.graph.win32 import plan as win32_plan

# Types Intune wants a minimum OS for even when the file states none: the lowest flag, so no
# device is excluded that the file did not exclude.
DEFAULT_MINIMUM: dict[str, Platform] = {
    "macOSPkgApp": "macos",
    "macOSDmgApp": "macos",
    "macOSLobApp": "macos",
    "windowsUniversalAppX": "windows",
}


# The publisher when neither the input, the file nor a named setting says who made the app
# (Graph requires one): honest, and visible in the portal as something to fix.
UNKNOWN_PUBLISHER = "Unknown publisher"

# Fields the readers fill that Graph v1.0's type does not define (msgraph-sdk's models, as
# the emulator's schema.py reads them); sent there, Graph refuses the whole body.
BETA_ONLY_FIELDS: dict[str, tuple[str, ...]] = {
    "windowsMobileMSI": ("identityVersion", "useDeviceContext"),
}


def display_name(meta: AppMetadata, options: PublishOptions) -> str:
    """The display-name input, else the name the device shows (the file's), else the file's
    name without its extension."""
    return options.display_name or meta.display_name or meta.file_name.rsplit(".", 1)[0]


def publisher(meta: AppMetadata, options: PublishOptions, settings: Settings) -> str:
    """The publisher input; else who the file says made it (the provisioning profile's team,
    the signing certificate, PublisherDisplayName, Manufacturer...); else the setting's name
    when one was given; else UNKNOWN_PUBLISHER, never the literal "default"."""
    if options.publisher:
        return options.publisher
    if meta.publisher:
        return meta.publisher
    if settings.setting_name and settings.setting_name != DEFAULT_SETTING_NAME:
        return settings.setting_name
    return UNKNOWN_PUBLISHER


def description(meta: AppMetadata, options: PublishOptions) -> str:
    """The description input, else the name and the app's identity (bundle id, package...).
    No version: the description is written once, at create, and would go stale."""
    if options.description:
        return options.description
    name = display_name(meta, options)
    identity = f" ({meta.identity})" if meta.identity and meta.identity != name else ""
    return f"{name}{identity}, published by intune-step"


def app_body(meta: AppMetadata, options: PublishOptions, settings: Settings) -> dict[str, Any]:
    """The mobileApp create body: common fields, the type's own fields, the minimum-OS flag,
    then the user's ``properties``."""
    name = display_name(meta, options)
    body: dict[str, Any] = {
        "@odata.type": meta.odata_type,
        "displayName": name,
        "description": description(meta, options),
        "publisher": publisher(meta, options, settings),
        "fileName": meta.file_name,
        "isFeatured": False,
        "informationUrl": None,
        "privacyInformationUrl": None,
        "developer": "",
        "owner": "",
        "notes": "",
    }
    body.update(type_fields(meta, options, settings, creating=True))
    return merge_properties(body, options.properties)


def update_body(meta: AppMetadata, options: PublishOptions, settings: Settings) -> dict[str, Any]:
    """What an update PATCHes: the fields that follow from the file, the win32 fields the
    input gives (or the new MSI implies), only the names the user set, and ``properties``."""
    body: dict[str, Any] = {"@odata.type": meta.odata_type, "fileName": meta.file_name}
    body.update(type_fields(meta, options, settings, creating=False))
    full = {"displayName": display_name(meta, options),
            "description": options.description,
            "publisher": options.publisher}
    for option, key in (("display_name", "displayName"), ("description", "description"),
                        ("publisher", "publisher")):
        if getattr(options, option):
            body[key] = full[key]
    return merge_properties(body, options.properties)


def type_fields(meta: AppMetadata, options: PublishOptions, settings: Settings, *,
                creating: bool) -> dict[str, Any]:
    """The fields of ``meta``'s Graph type, shared by the create and update bodies."""
    fields: dict[str, Any] = dict(meta.properties)
    if settings.graph_version != "beta":
        for name in BETA_ONLY_FIELDS.get(meta.app_type, ()):
            fields.pop(name, None)
    if meta.app_type == "win32LobApp":
        fields.update(win32_plan(meta, options.win32, creating=creating,
                                 graph_version=settings.graph_version))
    flags = minimum_os(meta, settings.graph_version)
    if flags is not None:
        fields["minimumSupportedOperatingSystem"] = flags
    return fields


def minimum_os(meta: AppMetadata, graph_version: str) -> dict[str, Any] | None:
    """The single-flag object: the file's minimum, or the lowest flag where Intune wants one."""
    minimum = meta.minimum_os
    if minimum is None and meta.app_type in DEFAULT_MINIMUM:
        platform = DEFAULT_MINIMUM[meta.app_type]
        lowest = TABLES.get(graph_version, TABLES["beta"])[platform][0]
        # macOS "10.7" for v10_7; Windows 10's first build for v10_0 (v8_x are Windows 8)
        version = "10.0.10240.0" if platform == "windows" else lowest.lstrip("v").replace("_", ".")
        minimum = MinimumOs(platform, version)
    if minimum is None:
        return None
    flags: dict[str, Any] = {}
    flag_type = odata_type(minimum.platform)
    if flag_type:
        flags["@odata.type"] = flag_type
    flags.update(minimum_os_flags(minimum, graph_version))
    return flags


def content_file_body(meta: AppMetadata) -> dict[str, Any]:
    """The content file: for Win32 ``name`` is Detection.xml's FileName and the sizes are the
    payload's own (plain zip and encrypted blob); the manifest is null except for MSI
    (MobileMsiData) and AppX (the file name), as the readers set it."""
    manifest = base64.b64encode(meta.manifest).decode() if meta.manifest is not None else None
    return {
        "@odata.type": "#microsoft.graph.mobileAppContentFile",
        "name": meta.file_name,
        "size": meta.content.size,
        "sizeEncrypted": meta.content.size_encrypted,
        "manifest": manifest,
        "isDependency": False,
    }


def merge_properties(body: dict[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    """Each key of ``properties`` replaces the body's field of that name (no deep merge, so
    a minimumSupportedOperatingSystem given here is the whole flag object)."""
    body.update(properties)
    return body
