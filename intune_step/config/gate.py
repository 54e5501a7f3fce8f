"""The install gate's bar, as the user states it, validated before any network call.

``installs-required`` is a number of devices (``5``) or a share of the devices the report
counts for this version (``80%``); ``failures-allowed`` a number; ``install-timeout`` seconds
(``90``) or with a unit (``45m``, ``2h``); ``install-group`` a group's object ID to count
within (docs/install-gate.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from intune_step.config.text import GUID, clean, parse_bool
from intune_step.errors import SettingsError

GATE_INPUTS = ("wait-for-installs", "installs-required", "failures-allowed", "install-timeout",
               "install-group")
DEFAULT_TIMEOUT = 3600.0  # an hour: long enough for a pilot ring that syncs on check-in
DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smh]?)$")
UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class GateBar:
    """When the build counts as arrived, and how long to wait for it."""

    wait: bool = False  # after a publish: run the gate at all
    required: int = 1  # devices that must report this version installed
    required_share: float | None = None  # or this share (0-1] of the counted devices
    failures_allowed: int = 0
    timeout: float = DEFAULT_TIMEOUT  # seconds
    group_id: str | None = None

    def describe(self) -> str:
        need = (f"{self.required_share:.0%} of the counted devices" if self.required_share
                is not None else f"{self.required} device{'s' if self.required != 1 else ''}")
        group = f" in group {self.group_id}" if self.group_id else ""
        return (f"{need}{group} with this version installed, at most {self.failures_allowed} "
                f"failed, within {self.timeout:g}s")


def parse_gate(raw: Mapping[str, str | None], *, standalone: bool = False) -> GateBar:
    """The bar from the inputs; ``standalone`` (`intune-step status`) waits whatever
    wait-for-installs says."""
    wait = standalone or parse_bool("wait-for-installs", clean(raw, "wait-for-installs"))
    required, share = _required(clean(raw, "installs-required"))
    return GateBar(
        wait=wait,
        required=required,
        required_share=share,
        failures_allowed=_count("failures-allowed", clean(raw, "failures-allowed"), 0),
        timeout=_timeout(clean(raw, "install-timeout")),
        group_id=_group(clean(raw, "install-group")),
    )


def _required(text: str | None) -> tuple[int, float | None]:
    if text is None:
        return 1, None
    if text.endswith("%"):
        number = text[:-1].strip()
        try:
            share = float(number) / 100
        except ValueError:
            share = -1.0
        if not 0 < share <= 1:
            raise SettingsError(f"installs-required {text!r} is not a share from 1% to 100%",
                                fix="set installs-required: 80% (or a number of devices, e.g. 5)")
        return 0, share
    return _count("installs-required", text, 1, minimum=1), None


def _count(name: str, text: str | None, default: int, minimum: int = 0) -> int:
    if text is None:
        return default
    if not text.isdigit() or int(text) < minimum:
        raise SettingsError(f"{name} must be a whole number of devices from {minimum}, not "
                            f"{text!r}", fix=f"set {name}: {max(default, minimum)}")
    return int(text)


def _timeout(text: str | None) -> float:
    if text is None:
        return DEFAULT_TIMEOUT
    match = DURATION.match(text.lower())
    seconds = float(match.group(1)) * UNITS[match.group(2)] if match else 0.0
    if seconds <= 0:
        raise SettingsError(f"install-timeout must be a time above 0 (seconds, or with s, m or "
                            f"h), not {text!r}", fix="set install-timeout: 45m")
    return seconds


def _group(text: str | None) -> str | None:
    if text is not None and not GUID.match(text):
        raise SettingsError(f"install-group {text!r} is not a group's object ID (a GUID)",
                            fix="copy the group's Object ID from Entra admin center > Groups")
    return text
