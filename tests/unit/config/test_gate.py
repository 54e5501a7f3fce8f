"""The install gate's inputs: each parsed one way, each bad value one line with the fix."""

from __future__ import annotations

import pytest

from intune_step.config.gate import DEFAULT_TIMEOUT, GateBar, parse_gate
from intune_step.errors import SettingsError

GROUP = "dddddddd-2222-3333-4444-555555555555"


def test_defaults_wait_for_one_device_without_failures() -> None:
    bar = parse_gate({})
    assert bar == GateBar(wait=False, required=1, failures_allowed=0, timeout=DEFAULT_TIMEOUT)
    assert parse_gate({}, standalone=True).wait is True


@pytest.mark.parametrize(("inputs", "expected"), [
    ({"wait-for-installs": "true"}, {"wait": True}),
    ({"installs-required": "5"}, {"required": 5, "required_share": None}),
    ({"installs-required": "80%"}, {"required_share": 0.8}),
    ({"installs-required": "100 %"}, {"required_share": 1.0}),
    ({"failures-allowed": "3"}, {"failures_allowed": 3}),
    ({"install-timeout": "90"}, {"timeout": 90.0}),
    ({"install-timeout": "45m"}, {"timeout": 2700.0}),
    ({"install-timeout": "2h"}, {"timeout": 7200.0}),
    ({"install-timeout": "1.5"}, {"timeout": 1.5}),
    ({"install-group": GROUP}, {"group_id": GROUP}),
])
def test_each_input(inputs: dict[str, str], expected: dict[str, object]) -> None:
    bar = parse_gate(inputs)
    for name, value in expected.items():
        assert getattr(bar, name) == value


@pytest.mark.parametrize(("inputs", "message"), [
    ({"wait-for-installs": "yes"}, "wait-for-installs must be true or false"),
    ({"installs-required": "0"}, "installs-required must be a whole number"),
    ({"installs-required": "many"}, "installs-required must be a whole number"),
    ({"installs-required": "0%"}, "not a share from 1% to 100%"),
    ({"installs-required": "150%"}, "not a share from 1% to 100%"),
    ({"failures-allowed": "-1"}, "failures-allowed must be a whole number"),
    ({"install-timeout": "0"}, "install-timeout must be a time above 0"),
    ({"install-timeout": "soon"}, "install-timeout must be a time above 0"),
    ({"install-timeout": "5d"}, "install-timeout must be a time above 0"),
    ({"install-group": "Pilot ring"}, "is not a group's object ID"),
])
def test_bad_values_are_refused(inputs: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        parse_gate(inputs)
    assert caught.value.fix


def test_the_bar_describes_itself() -> None:
    assert parse_gate({"installs-required": "80%", "install-group": GROUP}).describe() == (
        f"80% of the counted devices in group {GROUP} with this version installed, at most 0 "
        "failed, within 3600s")
