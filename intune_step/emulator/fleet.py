"""A simulated fleet: devices in groups that install an assigned build over simulated time.

Each device is configured with what happens when a build reaches it (``installs``,
``fails`` with an error code, ``stays pending``, ``notApplicable``) and after how many
simulated seconds. A device is targeted by an app's *required* assignments (a group it is in,
all devices, or all licensed users when it has a user), minus exclusion groups. Its clock for
a build starts when the fleet first sees it targeted by that version (docs/install-gate.md).
The fleet reports rows in the shape of Intune's DeviceInstallStatusByApp report.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["installed", "failed", "pending", "notApplicable"]
PLATFORMS = {"iosLobApp": "iOS", "androidLobApp": "Android", "win32LobApp": "Windows",
             "macOSLobApp": "macOS", "macOSPkgApp": "macOS", "macOSDmgApp": "macOS",
             "windowsMobileMSI": "Windows", "windowsUniversalAppX": "Windows"}
# resultantAppState values, as the report's AppInstallState column carries them, and the
# English text of its _loc column (docs/protocol.md, "Reports").
STATE_CODES = {"installed": ("1", "Installed"), "failed": ("2", "Failed"),
               "pending": ("5", "Install Pending"), "notApplicable": ("-1", "Not Applicable")}
DETAILS = {"installed": ("0", "No additional details"), "pending": ("0", "No additional details"),
           "failed": ("2016345060", "See install error code"),
           "notApplicable": ("0", "No additional details")}


@dataclass(frozen=True)
class FleetDevice:
    """One simulated device. ``after_s``: simulated seconds from targeting to ``outcome``
    (pending until then). ``version``: report this AppVersion instead of the build's (a device
    that stays on an older version)."""

    name: str
    platform: str = "iOS"  # iOS | Android | Windows | macOS: only apps of it apply
    groups: tuple[str, ...] = ()
    user: str = ""
    outcome: Outcome = "installed"
    error_code: str = "0x87D1041C"
    after_s: float = 0.0
    version: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


def version_label(props: dict[str, Any]) -> str:
    """How the emulator shows an app's version in reports: "2.4.1 (241)", or the one number."""
    for short, build in (("versionNumber", "buildNumber"), ("versionName", "versionCode"),
                         ("displayVersion", None), ("primaryBundleVersion", None)):
        version = str(props.get(short) or "")
        if version:
            code = str(props.get(build) or "") if build else ""
            return f"{version} ({code})" if code and code != version else version
    return ""


class Fleet:
    """The devices and when each first saw each app version; guarded by State.lock."""

    def __init__(self, devices: tuple[FleetDevice, ...], time_scale: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.devices = list(devices)
        self.time_scale = time_scale
        self._clock = clock
        self._seen: dict[tuple[str, str, str], float] = {}  # (app, device, version) -> when

    def now(self) -> float:
        return self._clock() * self.time_scale

    def group_members(self, group_id: str) -> list[FleetDevice]:
        return [d for d in self.devices if group_id in d.groups]

    def targeted(self, device: FleetDevice, assignments: list[dict[str, Any]]) -> bool:
        included = excluded = False
        for item in assignments:
            target = item.get("target") or {}
            kind = str(target.get("@odata.type") or "")
            group = target.get("groupId")
            if kind.endswith("exclusionGroupAssignmentTarget"):
                excluded = excluded or group in device.groups
            elif item.get("intent") != "required":
                continue
            elif kind.endswith("allDevicesAssignmentTarget"):
                included = True
            elif kind.endswith("allLicensedUsersAssignmentTarget"):
                included = included or bool(device.user)
            elif kind.endswith("groupAssignmentTarget"):
                included = included or group in device.groups
        return included and not excluded

    def rows(self, app_id: str, type_name: str, props: dict[str, Any],
             assignments: list[dict[str, Any]]) -> list[dict[str, str]]:
        """The app's DeviceInstallStatusByApp rows now (every column, localized beside)."""
        label = version_label(props)
        platform = PLATFORMS.get(type_name, "")
        rows = []
        for device in self.devices:
            if not self.targeted(device, assignments):
                continue
            state = self._state(app_id, device, label, platform)
            code, text = STATE_CODES[state]
            detail, detail_text = DETAILS[state]
            version = device.version if device.version is not None else (
                label if state in ("installed", "failed") else "")
            rows.append({
                "DeviceName": device.name, "UserPrincipalName": device.user,
                "UserName": device.user.partition("@")[0], "Platform": device.platform,
                "AppVersion": version, "DeviceId": device.id, "AssignmentFilterIdsExist": "False",
                "LastModifiedDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "AppInstallState": code, "AppInstallState_loc": text,
                "AppInstallStateDetails": detail, "AppInstallStateDetails_loc": detail_text,
                "HexErrorCode": device.error_code if state == "failed" else "0x0",
                "ApplicationId": app_id,
            })
        return rows

    def _state(self, app_id: str, device: FleetDevice, label: str, platform: str) -> Outcome:
        if device.outcome == "notApplicable" or (platform and device.platform != platform):
            return "notApplicable"
        first = self._seen.setdefault((app_id, device.id, label), self.now())
        if device.outcome == "pending" or self.now() - first < device.after_s:
            return "pending"
        return device.outcome
