"""`check`'s lines: one per feature, ok with the role that grants it, or missing."""

from __future__ import annotations

from intune_step.auth.permissions import FEATURES, feature_lines


def test_a_publish_only_token() -> None:
    lines = feature_lines(("DeviceManagementApps.ReadWrite.All",))
    assert [granted for granted, _ in lines] == [True, True, True, False, False]
    assert lines[2][1] == ("install gate (install status reports): ok "
                           "(DeviceManagementApps.ReadWrite.All)")
    assert lines[3][1] == "groups by name, and install-group: missing (needs Group.Read.All)"


def test_a_read_only_token_cannot_start_reports() -> None:
    lines = dict((line.split(":")[0], granted)
                 for granted, line in feature_lines(("DeviceManagementApps.Read.All",)))
    assert lines["read apps and export jobs"] is True
    assert lines["install gate (install status reports)"] is False


def test_every_feature_with_every_role() -> None:
    roles = tuple(role for feature in FEATURES for role in feature.roles)
    assert all(granted for granted, _ in feature_lines(roles))
    assert all(granted is False for granted, _ in feature_lines(()))
