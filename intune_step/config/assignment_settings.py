"""An assignment's `settings:`, per app type, checked offline.

Graph's names are used as they are, so the docs of each type are the reference
(docs/assignments.md cites them): win32LobAppAssignmentSettings (notifications,
deliveryOptimizationPriority, installTimeSettings, restartSettings, autoUpdateSettings),
iosLobAppAssignmentSettings (isRemovable, uninstallOnDeviceRemoval, preventManagedAppBackup,
vpnConfigurationId) and macOsLobAppAssignmentSettings (uninstallOnDeviceRemoval). Parsing
checks names and values; :func:`settings_for` checks that each setting applies to the app's
type, once the artifact is read and before anything is sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from intune_step.errors import SettingsError

WIN32, IOS, MACOS = "win32LobApp", "iosLobApp", "macOSLobApp"
SETTINGS_TYPE = {WIN32: "win32LobAppAssignmentSettings", IOS: "iosLobAppAssignmentSettings",
                 MACOS: "macOsLobAppAssignmentSettings"}
NOTIFICATIONS = ("showAll", "showReboot", "hideAll")
DELIVERY_PRIORITY = ("notConfigured", "foreground")
AUTO_UPDATE_STATES = ("notConfigured", "enabled")
RESTART_KEYS = ("gracePeriodInMinutes", "countdownDisplayBeforeRestartInMinutes",
                "restartNotificationSnoozeDurationInMinutes")
INSTALL_TIME_KEYS = ("startDateTime", "deadlineDateTime", "useLocalTime")
BETA_ONLY = {"preventManagedAppBackup"}  # v1.0's iosLobAppAssignmentSettings lacks it
# Setting -> the app types it applies to.
APPLIES = {
    "notifications": (WIN32,), "deliveryOptimizationPriority": (WIN32,),
    "installTimeSettings": (WIN32,), "restartSettings": (WIN32,),
    "autoUpdateSettings": (WIN32,),
    "isRemovable": (IOS,), "preventManagedAppBackup": (IOS,), "vpnConfigurationId": (IOS,),
    "uninstallOnDeviceRemoval": (IOS, MACOS),
}


def parse_settings(where: str, value: Any) -> str | None:
    """The settings mapping as canonical JSON (hashable, comparable); None when absent."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SettingsError(f"{where}: settings must be a mapping",
                            fix="e.g. settings: {notifications: hideAll}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        key = str(key)
        check = _CHECKS.get(key)
        if check is None:
            raise SettingsError(f"{where}: unknown setting {key}",
                                fix=f"use {', '.join(APPLIES)} (Graph's names)")
        out[key] = check(f"{where}: settings.{key}", item)
    return json.dumps(out, sort_keys=True, separators=(",", ":"))


def settings_for(settings: str | None, app_type: str, graph_version: str,
                 where: str) -> dict[str, Any] | None:
    """The Graph settings object for an app of ``app_type``; refuses what does not apply."""
    if settings is None:
        return None
    values: dict[str, Any] = json.loads(settings)
    for key in values:
        if app_type not in APPLIES[key]:
            kinds = " and ".join(APPLIES[key])
            raise SettingsError(f"{where}: setting {key} does not apply to a {app_type} "
                                f"(only to {kinds} apps)",
                                fix=f"remove {key} from the settings of this assignment")
        if key in BETA_ONLY and graph_version != "beta":
            raise SettingsError(f"{where}: setting {key} needs graph-version beta",
                                fix=f"set graph-version: beta, or remove {key}")
    return {"@odata.type": f"#microsoft.graph.{SETTINGS_TYPE[app_type]}", **values}


def _enum(members: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(where: str, value: Any) -> str:
        found = next((m for m in members if m.lower() == str(value).strip().lower()), None)
        if found is None or not isinstance(value, str):
            raise SettingsError(f"{where} {value!r} is not one of {', '.join(members)}",
                                fix=f"set it to {members[0]}")
        return found
    return check


def _bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"{where} must be true or false, not {value!r}", fix="write true")
    return value


def _text(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{where} must be text", fix="write the VPN profile's ID")
    return value.strip()


def _minutes(where: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 20160:
        raise SettingsError(f"{where} must be a whole number of minutes, not {value!r}",
                            fix="e.g. 1440 (a day)")
    return value


def _mapping(where: str, value: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SettingsError(f"{where} must be a mapping", fix=f"use the keys {', '.join(keys)}")
    unknown = sorted(set(map(str, value)) - set(keys))
    if unknown:
        raise SettingsError(f"{where} has unknown key(s) {', '.join(unknown)}",
                            fix=f"use {', '.join(keys)}")
    return {str(k): v for k, v in value.items()}


def _restart(where: str, value: Any) -> dict[str, Any]:
    items = _mapping(where, value, RESTART_KEYS)
    return {k: _minutes(f"{where}.{k}", v) for k, v in items.items()}


def _install_time(where: str, value: Any) -> dict[str, Any]:
    items = _mapping(where, value, INSTALL_TIME_KEYS)
    out: dict[str, Any] = {"useLocalTime": _bool(f"{where}.useLocalTime",
                                                 items.get("useLocalTime", False))}
    moments: dict[str, datetime] = {}
    for key in ("startDateTime", "deadlineDateTime"):
        raw = items.get(key)
        if raw is None:
            out[key] = None
            continue
        text = raw.isoformat() if isinstance(raw, datetime) else str(raw).strip()
        try:
            moments[key] = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise SettingsError(f"{where}.{key} {raw!r} is not a date and time",
                                fix="write e.g. 2026-07-01T18:00:00Z") from None
        out[key] = text
    if len(moments) == 2:
        start, deadline = moments["startDateTime"], moments["deadlineDateTime"]
        if (start.tzinfo is None) != (deadline.tzinfo is None):
            raise SettingsError(f"{where}: give both times with a zone (Z) or neither",
                                fix="write both as e.g. 2026-07-01T18:00:00Z")
        if deadline < start:
            raise SettingsError(f"{where}: deadlineDateTime is before startDateTime",
                                fix="set the deadline after the start")
    return out


def _auto_update(where: str, value: Any) -> dict[str, Any]:
    items = _mapping(where, value, ("autoUpdateSupersededAppsState",))
    state = _enum(AUTO_UPDATE_STATES)(f"{where}.autoUpdateSupersededAppsState",
                                      items.get("autoUpdateSupersededAppsState", "enabled"))
    return {"autoUpdateSupersededAppsState": state}


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "notifications": _enum(NOTIFICATIONS),
    "deliveryOptimizationPriority": _enum(DELIVERY_PRIORITY),
    "installTimeSettings": _install_time,
    "restartSettings": _restart,
    "autoUpdateSettings": _auto_update,
    "isRemovable": _bool,
    "uninstallOnDeviceRemoval": _bool,
    "preventManagedAppBackup": _bool,
    "vpnConfigurationId": _text,
}
