"""The install gate: wait until a build has reached devices, by the bar the user set.

Each poll exports a fresh DeviceInstallStatusByApp report (graph/reports.py) and counts the
rows: only rows of this build's version count as installed or failed; a device still on
another version, or reporting none yet, is one the build has not reached. The gate ends met,
failed (more failures than allowed: exit 4, the failing devices listed) or timed out (exit 5,
with the counts so far). See docs/install-gate.md.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from intune_step.config.gate import GateBar
from intune_step.errors import GateFailedError, GateTimeoutError
from intune_step.graph.reports import DeviceRow, ExportFailed, ExportPending, Reports
from intune_step.report import Reporter

DEFAULT_POLL = 30.0  # a CI log line every 30 s at most, and few export jobs
FAILED_EXPORTS = 3  # export jobs that end "failed" in a row before the gate gives up
# AppInstallState holds resultantAppState's numbers; the _loc column the English words
# (docs/protocol.md, "Reports"). Anything else (not installed, unknown) is "other".
STATES = {"1": "installed", "2": "failed", "4": "failed", "5": "pending", "-1": "notApplicable"}
WORDS = {"installed": "installed", "failed": "failed", "uninstall failed": "failed",
         "install pending": "pending", "pending install": "pending", "pending": "pending",
         "not applicable": "notApplicable"}


@dataclass
class GateStatus:
    """What the last report said, counted against the bar."""

    version: str
    installed: int = 0
    failed: int = 0
    pending: int = 0
    not_applicable: int = 0
    other_versions: int = 0  # devices that report another version of the app
    counted: int = 0  # applicable devices in scope, whatever their version
    needed: int = 1
    verdict: str = "waiting"  # met | failed | timed-out (waiting while it runs)
    failing: list[DeviceRow] = field(default_factory=list)
    elapsed: float = 0.0
    reports: int = 0

    def counts_line(self) -> str:
        others = f"; {self.other_versions} on other versions" if self.other_versions else ""
        return (f"{self.installed} installed, {self.failed} failed, {self.pending} pending, "
                f"{self.not_applicable} not applicable (of {self.counted} devices{others}; "
                f"need {self.needed} installed)")


def version_matches(reported: str, label: str) -> bool:
    """A row's AppVersion against the build's version label ("2.4.1 (241)" or "2.4.1")."""
    reported = reported.strip()
    if not reported:
        return False
    if reported == label or "(" in reported:
        return reported == label
    version, _, build = label.partition(" (")
    return reported in (version, build.rstrip(")"))


def classify(row: DeviceRow) -> str:
    return STATES.get(row.state) or WORDS.get(row.state_text.strip().lower(), "other")


def app_version_label(app: Mapping[str, Any]) -> str:
    """The version label of an app as Graph renders it (for `intune-step status`)."""
    for short, build in (("versionNumber", "buildNumber"), ("versionName", "versionCode"),
                         ("displayVersion", None), ("primaryBundleVersion", None)):
        version = str(app.get(short) or "")
        if version:
            code = str(app.get(build) or "") if build else ""
            return f"{version} ({code})" if code and code != version else version
    return ""


def count(rows: list[DeviceRow], label: str, bar: GateBar,
          scope: tuple[set[str], set[str]] | None) -> GateStatus:
    """The gate's counts for one report (``scope``: the group's users and devices)."""
    status = GateStatus(version=label)
    for row in rows:
        if scope is not None and not (row.user.lower() in scope[0]
                                      or row.device.lower() in scope[1]):
            continue
        state = classify(row)
        if state == "notApplicable":
            status.not_applicable += 1
            continue
        status.counted += 1
        ours = version_matches(row.version, label)
        if not ours and row.version.strip():
            status.other_versions += 1
            continue  # still on another version: the build has not reached it
        if state == "installed" and ours:
            status.installed += 1
        elif state == "failed":
            status.failed += 1
            status.failing.append(row)
        else:
            status.pending += 1
    share = bar.required_share
    status.needed = max(1, math.ceil(share * status.counted)) if share is not None else bar.required
    return status


class Gate:
    def __init__(self, reports: Reports, reporter: Reporter, poll: float | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._reports, self._reporter = reports, reporter
        self._poll = DEFAULT_POLL if poll is None else poll
        self._sleep, self._clock = sleep, clock

    def wait(self, app_id: str, label: str, bar: GateBar) -> GateStatus:
        """Poll until the bar is met (the status), or raise GateFailedError/GateTimeoutError."""
        start = self._clock()
        deadline = start + bar.timeout
        self._reporter.info(f"Install gate for {app_id} version {label}: {bar.describe()}")
        overview = self._reports.overview(app_id)
        if overview:
            self._reporter.info("Intune's overview (every version): " + ", ".join(
                f"{k} {overview[k]}" for k in ("InstalledDeviceCount", "FailedDeviceCount",
                                               "PendingInstallDeviceCount",
                                               "NotApplicableDeviceCount") if k in overview))
        scope = self._reports.group_members(bar.group_id) if bar.group_id else None
        status = GateStatus(version=label, needed=bar.required)
        reports = failed_exports = 0
        while True:
            try:
                rows = self._reports.device_statuses(app_id, deadline)
                failed_exports = 0
            except ExportPending:
                rows = None
            except ExportFailed as exc:  # a passing failure of the report service, or not
                failed_exports += 1
                if failed_exports >= FAILED_EXPORTS:
                    exc.message += f" ({failed_exports} export jobs in a row)"
                    exc.args = (exc.message,)
                    raise
                self._reporter.warning(f"{exc.message}; trying again at the next poll")
                rows = None
            now = self._clock()
            if rows is not None:
                reports += 1
                status = count(rows, label, bar, scope)
            status.elapsed, status.reports = now - start, reports
            self._reporter.info(f"[{status.elapsed:.0f}s] {label}: {status.counts_line()}")
            if status.failed > bar.failures_allowed:
                status.verdict = "failed"
                raise GateFailedError(
                    f"{status.failed} devices failed to install {label} (at most "
                    f"{bar.failures_allowed} allowed): " + failing_text(status), status=status,
                    fix="read each device's error code in Intune (Apps > the app > Device "
                        "install status); fix the build or raise failures-allowed")
            if status.installed >= status.needed:
                status.verdict = "met"
                self._reporter.info(f"Install gate met: {status.installed} devices have {label}")
                return status
            if now >= deadline:
                status.verdict = "timed-out"
                raise GateTimeoutError(
                    f"install gate timed out after {bar.timeout:g}s with {status.counts_line()}",
                    status=status, fix="wait longer (install-timeout), lower installs-required, "
                                       "or check that the assignment reaches enough devices")
            self._sleep(max(0.0, min(self._poll, deadline - now)))


def failing_text(status: GateStatus, limit: int = 10) -> str:
    shown = [f"{row.device or row.device_id} ({row.user or 'no user'}) error "
             f"{row.error_code or 'none'}" for row in status.failing[:limit]]
    more = len(status.failing) - limit
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
