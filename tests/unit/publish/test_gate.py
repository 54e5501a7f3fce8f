"""The gate's counting and its three ends, with a scripted report and a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from intune_step.config.gate import GateBar
from intune_step.errors import GateFailedError, GateTimeoutError
from intune_step.graph.reports import DeviceRow, ExportFailed, ExportPending
from intune_step.publish.gate import Gate, app_version_label, classify, count, version_matches
from intune_step.report import RecordingReporter

LABEL = "2.4.1 (241)"


def row(name: str, state: str, version: str = LABEL, user: str = "", code: str = "0x0",
        text: str = "") -> DeviceRow:
    return DeviceRow(device=name, user=user or f"{name}@contoso.com", platform="iOS",
                     version=version, state=state, state_text=text, detail="",
                     error_code=code, modified="")


@pytest.mark.parametrize(("reported", "matches"), [
    ("2.4.1 (241)", True), ("2.4.1", True), ("241", True), ("2.4.0 (240)", False),
    ("2.4.1 (240)", False), ("2.4", False), ("", False), (" 2.4.1 ", True),
])
def test_version_matching(reported: str, matches: bool) -> None:
    assert version_matches(reported, LABEL) is matches


def test_win32_label_matches_itself_only() -> None:
    assert version_matches("1.2.0", "1.2.0") and not version_matches("1.2", "1.2.0")


@pytest.mark.parametrize(("state", "text", "kind"), [
    ("1", "", "installed"), ("2", "", "failed"), ("4", "", "failed"), ("5", "", "pending"),
    ("-1", "", "notApplicable"), ("3", "Not Installed", "other"), ("99", "", "other"),
    ("", "Installed", "installed"), ("", "Install Pending", "pending"),
    ("", "Not Applicable", "notApplicable"), ("", "Failed", "failed"),
])
def test_states(state: str, text: str, kind: str) -> None:
    assert classify(row("d", state, text=text)) == kind


def test_only_this_version_counts() -> None:
    rows = [row("a", "1"), row("b", "1", version="2.4.0 (240)"), row("c", "2", code="0x87D1"),
            row("d", "5", version=""), row("e", "-1", version=""), row("f", "2", version="1.0")]
    status = count(rows, LABEL, GateBar(required_share=0.5), None)
    assert (status.installed, status.failed, status.pending, status.not_applicable) == (1, 1, 1, 1)
    assert status.other_versions == 2  # b and f: the build has not reached them
    assert status.counted == 5 and status.needed == 3  # half of five, rounded up
    assert [r.device for r in status.failing] == ["c"]


def test_a_group_keeps_its_users_and_devices() -> None:
    rows = [row("a", "1"), row("b", "1"), row("c", "1", user="carol@contoso.com")]
    status = count(rows, LABEL, GateBar(), ({"carol@contoso.com"}, {"a"}))
    assert status.installed == 2 and status.counted == 2


def test_app_version_labels() -> None:
    assert app_version_label({"versionNumber": "2.4.1", "buildNumber": "241"}) == LABEL
    assert app_version_label({"versionNumber": "7", "buildNumber": "7"}) == "7"
    assert app_version_label({"versionName": "1.0", "versionCode": "10"}) == "1.0 (10)"
    assert app_version_label({"displayVersion": "3.0.1"}) == "3.0.1"
    assert app_version_label({}) == ""


class Script:
    """Reports that answer a list of reports in turn (None: the export did not complete)."""

    def __init__(self, answers: list[list[DeviceRow] | None], clock: list[float]) -> None:
        self.answers, self.clock, self.calls = answers, clock, 0

    def overview(self, app_id: str) -> dict[str, Any] | None:
        return {"InstalledDeviceCount": 9}

    def group_members(self, group_id: str) -> tuple[set[str], set[str]]:
        return set(), {"a", "b"}

    def device_statuses(self, app_id: str, deadline: float) -> list[DeviceRow]:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        self.clock[0] += 1
        if answer is None:
            raise ExportPending("job")
        return answer


def gate(answers: list[list[DeviceRow] | None]) -> tuple[Gate, Script, RecordingReporter]:
    clock = [0.0]
    script = Script(answers, clock)
    reporter = RecordingReporter()

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    fake: Any = script  # duck-typed Reports
    return Gate(fake, reporter, poll=10, sleep=sleep, clock=lambda: clock[0]), script, reporter


def test_met_after_a_few_reports() -> None:
    installs, _, reporter = gate([[row("a", "5", version="")],
                                       [row("a", "1"), row("b", "5", version="")],
                                       [row("a", "1"), row("b", "1")]])
    status = installs.wait("app", LABEL, GateBar(required=2, timeout=100))
    assert status.verdict == "met" and status.installed == 2 and status.reports == 3
    progress = [line for line in reporter.lines if line.startswith("[")]
    assert len(progress) == 3  # one line per report
    assert "need 2 installed" in progress[0]
    assert any("overview" in line for line in reporter.lines)


def test_failed_names_the_devices() -> None:
    installs, _, _ = gate([[row("a", "1"), row("bad", "2", code="0x87D13B9F")]])
    failing = r"bad \(bad@contoso.com\) error 0x87D13B9F"
    with pytest.raises(GateFailedError, match=failing) as caught:
        installs.wait("app", LABEL, GateBar(required=5, timeout=100))
    assert caught.value.exit_code == 4
    assert caught.value.status.verdict == "failed"


def test_failures_within_the_allowance_go_on() -> None:
    installs, _, _ = gate([[row("a", "1"), row("bad", "2")]])
    status = installs.wait("app", LABEL, GateBar(required=1, failures_allowed=1, timeout=100))
    assert status.verdict == "met" and status.failed == 1


def test_timed_out_keeps_the_counts_so_far() -> None:
    installs, script, _ = gate([[row("a", "1"), row("b", "5", version="")], None])
    with pytest.raises(GateTimeoutError, match="1 installed, 0 failed, 1 pending") as caught:
        installs.wait("app", LABEL, GateBar(required=2, timeout=35))
    assert caught.value.exit_code == 5
    assert caught.value.status.installed == 1 and caught.value.status.verdict == "timed-out"
    assert script.calls == 5  # reports at 0, 11, 22, 33 and one at the limit itself


def test_group_scope_is_read_once() -> None:
    installs, _, _ = gate([[row("a", "1"), row("z", "1")]])
    status = installs.wait("app", LABEL, GateBar(required=1, group_id="g", timeout=10))
    assert status.counted == 1


def test_a_failed_export_is_tried_again_then_given_up() -> None:
    class Failing(Script):
        def device_statuses(self, app_id: str, deadline: float) -> list[DeviceRow]:
            self.calls += 1
            if self.calls in (1, 3, 4, 5):
                raise ExportFailed("Intune's install status export j failed")
            return [row("a", "5", version="")]

    clock = [0.0]
    fake: Any = Failing([], clock)
    reporter = RecordingReporter()
    installs = Gate(fake, reporter, poll=1, sleep=lambda s: clock.__setitem__(0, clock[0] + s),
                    clock=lambda: clock[0])
    with pytest.raises(ExportFailed, match="3 export jobs in a row"):
        installs.wait("app", LABEL, GateBar(timeout=100))
    assert fake.calls == 5 and len(reporter.warnings) == 3
