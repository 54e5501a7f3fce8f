"""Graph request bodies built from the artifact's metadata and the user's overrides."""

from __future__ import annotations

import base64
from typing import Any

from intune_step.artifacts.base import AppMetadata
from intune_step.artifacts.minos import minimum_os_flags, odata_type
from intune_step.settings import PublishOptions, Settings


def display_name(meta: AppMetadata, options: PublishOptions) -> str:
    return options.display_name or meta.display_name or meta.file_name.rsplit(".", 1)[0]


def app_body(meta: AppMetadata, options: PublishOptions, settings: Settings) -> dict[str, Any]:
    """The mobileApp body: common fields, the type's own fields, the minimum-OS flag."""
    name = display_name(meta, options)
    body: dict[str, Any] = {
        "@odata.type": meta.odata_type,
        "displayName": name,
        "description": options.description or name,
        "publisher": options.publisher or meta.publisher or settings.setting_name,
        "fileName": meta.file_name,
        "isFeatured": False,
        "informationUrl": None,
        "privacyInformationUrl": None,
        "developer": "",
        "owner": "",
        "notes": "",
    }
    body.update(meta.properties)
    if meta.minimum_os is not None:
        flags: dict[str, Any] = {}
        flag_type = odata_type(meta.minimum_os.platform)
        if flag_type:
            flags["@odata.type"] = flag_type
        flags.update(minimum_os_flags(meta.minimum_os, settings.graph_version))
        body["minimumSupportedOperatingSystem"] = flags
    return body


def update_body(meta: AppMetadata, options: PublishOptions, settings: Settings) -> dict[str, Any]:
    """What an update PATCHes: the version fields, and only the names the user set."""
    full = app_body(meta, options, settings)
    body: dict[str, Any] = {"@odata.type": meta.odata_type, "fileName": meta.file_name}
    body.update(meta.properties)
    if "minimumSupportedOperatingSystem" in full:
        body["minimumSupportedOperatingSystem"] = full["minimumSupportedOperatingSystem"]
    for option, key in (("display_name", "displayName"), ("description", "description"),
                        ("publisher", "publisher")):
        if getattr(options, option):
            body[key] = full[key]
    return body


def content_file_body(meta: AppMetadata) -> dict[str, Any]:
    manifest = base64.b64encode(meta.manifest).decode() if meta.manifest is not None else None
    return {
        "@odata.type": "#microsoft.graph.mobileAppContentFile",
        "name": meta.file_name,
        "size": meta.content.size,
        "sizeEncrypted": meta.content.size_encrypted,
        "manifest": manifest,
        "isDependency": False,
    }
