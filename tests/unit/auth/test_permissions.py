"""`check`'s lines: one per feature, ok with the role that grants it, or missing."""

from __future__ import annotations

import pytest

from intune_step.auth.guards import MissingPermissionError
from intune_step.auth.permissions import FEATURES, GATE, GROUPS, feature_lines, require


def test_a_publish_only_token() -> None:
    lines = feature_lines(("DeviceManagementApps.ReadWrite.All",))
    assert [granted for granted, _ in lines] == [True, True, True, False, False]
    assert lines[2][1] == ("install gate (install status reports): ok "
                           "(DeviceManagementApps.ReadWrite.All)")
    assert lines[3][1] == ("groups by name, and install-group: missing (needs Group.Read.All or "
                           "GroupMember.Read.All or Directory.Read.All)")


def test_a_read_only_token_cannot_start_reports() -> None:
    lines = dict((line.split(":")[0], granted)
                 for granted, line in feature_lines(("DeviceManagementApps.Read.All",)))
    assert lines["read apps and export jobs"] is True
    assert lines["install gate (install status reports)"] is False


def test_every_feature_with_every_role() -> None:
    roles = tuple(role for feature in FEATURES for role in feature.roles)
    assert all(granted for granted, _ in feature_lines(roles))
    assert all(granted is False for granted, _ in feature_lines(()))


def test_require_names_the_missing_feature() -> None:
    require((GATE,), ("DeviceManagementManagedDevices.ReadWrite.All",), "c1")  # one will do
    with pytest.raises(MissingPermissionError, match="lacks the permission for the install gate"):
        require((GATE, GROUPS), ("DeviceManagementApps.Read.All",), "c1")
    with pytest.raises(MissingPermissionError, match=r"groups by name.*Group\.Read\.All"):
        require((GATE, GROUPS), ("DeviceManagementApps.ReadWrite.All",), "c1")
