"""What Intune requires of an app body beyond its shape: the required properties per LOB type.

The shape (which properties exist, their JSON kinds) is schema.py's, from Microsoft's SDK
models. Required-ness is not in the models: each rule here names its source in
docs/protocol.md, "Required properties". A create must satisfy every rule; a PATCH must
satisfy the rules of the properties it sends, so it cannot blank what a create needs.

Two rules Graph is not known to have are off unless asked for (``Strictness``): version
numbers present, and a provisioning profile not yet expired.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .graph_common import HttpError, bad_request
from .schema import Model, unresolved_type

Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Strictness:
    """Rules beyond what Graph is known to enforce (EmulatorConfig turns them on)."""

    require_version_numbers: bool = False
    refuse_expired_profile: bool = False


def _text(name: str) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, str) and value.strip():
            return None
        return f"The property '{name}' is required and must be a non-empty string."

    return check


def _one_flag(value: Any) -> str | None:
    # "Exactly one of the minimum operating system boolean values will be TRUE."
    if not isinstance(value, dict):
        return "The property 'minimumSupportedOperatingSystem' is required."
    flags = [v for k, v in value.items() if not k.startswith("@")]
    if sum(1 for v in flags if v is True) != 1:
        return "'minimumSupportedOperatingSystem' must have exactly one version set to true."
    return None


def _device_type(value: Any) -> str | None:
    if not isinstance(value, dict) or not any(
        value.get(k) is True for k in ("iPad", "iPhoneAndIPod")
    ):
        return "The property 'applicableDeviceType' must set iPad or iPhoneAndIPod to true."
    return None


def _architectures(value: Any) -> str | None:
    parts = {p.strip().lower() for p in value.split(",")} if isinstance(value, str) else set()
    if not parts - {"", "none"}:
        return "The property 'applicableArchitectures' must name at least one architecture."
    return None


_GUID = re.compile(r"\{?[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}?")


def _product_code(value: Any) -> str | None:
    if isinstance(value, str) and _GUID.fullmatch(value):
        return None
    return "The property 'productCode' is required and must be a GUID."


def _included_apps(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return "The property 'includedApps' must list at least one app."
    for app in value:
        for name in ("bundleId", "bundleVersion"):
            if not isinstance(app, dict) or _text(name)(app.get(name)):
                return f"Each of 'includedApps' needs a non-empty '{name}'."
    return None


def _version_code(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
        return None
    return "The property 'versionCode' must be a string holding an integer."


def _not_expired(value: Any) -> str | None:
    if not isinstance(value, str):
        return "The property 'expirationDateTime' is required."
    expires = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))  # shape checked first
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    if expires <= dt.datetime.now(dt.UTC):
        return "The app's provisioning profile has expired (expirationDateTime is in the past)."
    return None


_COMMON: dict[str, Check] = {"displayName": _text("displayName"), "fileName": _text("fileName")}
_MIN_OS: dict[str, Check] = {"minimumSupportedOperatingSystem": _one_flag}
_MAC_BUNDLE: dict[str, Check] = {
    "primaryBundleId": _text("primaryBundleId"),
    "primaryBundleVersion": _text("primaryBundleVersion"),
    "includedApps": _included_apps,
    **_MIN_OS,
}
REQUIRED: dict[str, dict[str, Check]] = {
    "iosLobApp": {"bundleId": _text("bundleId"), "applicableDeviceType": _device_type, **_MIN_OS},
    "androidLobApp": {"packageId": _text("packageId"), **_MIN_OS},
    "windowsMobileMSI": {"productCode": _product_code},
    "windowsUniversalAppX": {
        "identityName": _text("identityName"),
        "identityPublisherHash": _text("identityPublisherHash"),
        "applicableArchitectures": _architectures,
        **_MIN_OS,
    },
    "win32LobApp": {
        name: _text(name)
        for name in ("setupFilePath", "installCommandLine", "uninstallCommandLine")
    },
    "macOSPkgApp": _MAC_BUNDLE,
    "macOSDmgApp": _MAC_BUNDLE,
    "macOSLobApp": {"bundleId": _text("bundleId"), **_MIN_OS},
}
VERSION_NUMBERS: dict[str, dict[str, Check]] = {
    "iosLobApp": {"versionNumber": _text("versionNumber"), "buildNumber": _text("buildNumber")},
    "androidLobApp": {"versionCode": _version_code, "versionName": _text("versionName")},
    "windowsMobileMSI": {"productVersion": _text("productVersion")},
    "windowsUniversalAppX": {"identityVersion": _text("identityVersion")},
    "macOSLobApp": {"versionNumber": _text("versionNumber"), "buildNumber": _text("buildNumber")},
}


def _rules(type_name: str, strict: Strictness) -> dict[str, Check]:
    rules = {**_COMMON, **REQUIRED.get(type_name, {})}
    if strict.require_version_numbers:
        rules.update(VERSION_NUMBERS.get(type_name, {}))
    if strict.refuse_expired_profile and type_name == "iosLobApp":
        rules["expirationDateTime"] = _not_expired
    return rules


def check_create(
    model: Model, type_name: str, body: dict[str, Any], strict: Strictness = Strictness()
) -> None:
    """Raise Graph's answer to a POST mobileApps body for ``type_name``; None when it is fine."""
    model.check(type_name, body)
    for name, check in _rules(type_name, strict).items():
        problem = check(body.get(name))
        if problem:
            raise bad_request(problem)
    if type_name == "win32LobApp":
        _win32_rules(model, body, creating=True)


def check_patch(
    model: Model, type_name: str, body: dict[str, Any], strict: Strictness = Strictness()
) -> None:
    """A PATCH is read as the type its ``@odata.type`` names, or as ``mobileApp`` without
    one, so a subtype property sent without it does not exist on the type read."""
    raw = body.get("@odata.type")
    read_as = "mobileApp"
    if raw is not None:
        named = model.payload_type(raw)
        if named is None:
            raise unresolved_type(raw)
        if named != type_name:
            raise bad_request(
                f"The @odata.type '{raw}' does not match the app's type "
                f"'#microsoft.graph.{type_name}'."
            )
        read_as = named
    model.check(read_as, body)
    for name, check in _rules(type_name, strict).items():
        if name in body:
            problem = check(body[name])
            if problem:
                raise bad_request(problem)
    if type_name == "win32LobApp":
        _win32_rules(model, body, creating=False)


# --- win32LobApp: rules and detection ----------------------------------------------------

_RELEASE = re.compile(r"v\d+_")


def _win32_rules(model: Model, body: dict[str, Any], *, creating: bool) -> None:
    if "rules" in body and "detectionRules" in body:
        raise bad_request("A Win32LobApp cannot have both 'rules' and 'detectionRules'.")
    release = body.get("minimumSupportedWindowsRelease")
    if isinstance(release, str) and _RELEASE.match(release):
        raise bad_request(
            f"The value '{release}' is not valid for 'minimumSupportedWindowsRelease'."
        )
    legacy = "detectionRules" in body
    if not creating and not legacy and "rules" not in body:
        return
    rules = body.get("detectionRules" if legacy else "rules")
    if not isinstance(rules, list):
        rules = []
    base = "win32LobAppDetection" if legacy else "win32LobAppRule"
    detection = []
    for rule in rules:
        named = model.payload_type(rule.get("@odata.type")) if isinstance(rule, dict) else None
        if named is None or named == base or not model.is_a(named, base):
            raise _incompatible(rule)
        if legacy or str(rule.get("ruleType", "")).lower() == "detection":
            detection.append(named)
    if not detection:
        raise bad_request("The Win32LobApp must have at least one detection rule specified.")
    scripts = [k for k in detection if "PowerShellScript" in k]
    if scripts and len(detection) > 1:
        raise bad_request(
            "A PowerShell script detection rule cannot be combined with other detection rules."
        )


def _incompatible(rule: Any) -> HttpError:
    kind = rule.get("@odata.type") if isinstance(rule, dict) else None
    return bad_request(
        f"ModelValidationFailure: the rule type '{kind}' has a type name that is incompatible "
        "with the metadata."
    )


def describe(exc: HttpError) -> str:
    """The text of an answer, for callers that only want to know what was wrong."""
    return exc.text
