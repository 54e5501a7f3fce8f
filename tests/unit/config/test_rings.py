"""Rings from the settings file, a setting's own, and the rings input; ring and promotion
inputs resolved to rings offline, with one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from intune_step.config.options import build_options
from intune_step.config.rings import parse_rings
from intune_step.errors import SettingsError

G1 = "11111111-2222-3333-4444-555555555555"
FILE = """\
default: prod
settings:
  prod: {client-id: 11111111-2222-3333-4444-555555555555}
  other:
    client-id: 11111111-2222-3333-4444-555555555555
    rings:
      pilot: {groups: [Other pilot]}
rings:
  pilot: {intent: required, groups: [Pilot devices], exclude-groups: [VIPs],
          settings: {notifications: showAll}}
  broad:
    - {intent: available, target: all-users}
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "intune-step.yml").write_text(FILE)
    (tmp_path / "app.ipa").write_bytes(b"x")
    return tmp_path


def test_file_rings_in_order_with_their_assignments(workspace: Path) -> None:
    rings = parse_rings({}, workspace)
    assert rings.names() == ["pilot", "broad"]
    pilot = rings.get("Pilot", "ring")
    assert [(a.group_name, a.kind, a.settings) for a in pilot.assignments] == [
        ("Pilot devices", "groupAssignmentTarget", '{"notifications":"showAll"}'),
        ("VIPs", "exclusionGroupAssignmentTarget", None)]
    assert rings.before(pilot) is None
    assert rings.before(rings.get("broad", "ring")) == pilot


def test_a_settings_entry_and_the_input_replace_rings_by_name(workspace: Path) -> None:
    own = parse_rings({"setting-name": "other"}, workspace)
    assert [a.group_name for a in own.get("pilot", "ring").assignments] == ["Other pilot"]
    given = parse_rings({"rings": f"broad: {{groups: [{G1}]}}\nlast: {{target: all-devices}}"},
                        workspace)
    assert given.names() == ["pilot", "broad", "last"]
    assert [a.group_id for a in given.get("broad", "ring").assignments] == [G1]


def test_publishing_to_a_ring_adds_its_assignments(workspace: Path) -> None:
    options = build_options({"file": "app.ipa", "ring": "pilot",
                             "assignments": f"- intent: available\n  group: {G1}"}, workspace)
    assert options.ring is not None and options.ring.name == "pilot"
    assert [a.group_id or a.group_name for a in options.assignments or ()] == [
        G1, "Pilot devices", "VIPs"]
    promote = build_options({"file": "app.ipa", "promote-to": "broad",
                             "promote-from": "pilot"}, workspace)
    assert (promote.promote_to and promote.promote_to.name,
            promote.promote_from and promote.promote_from.name) == ("broad", "pilot")


@pytest.mark.parametrize(("raw", "message"), [
    ({"ring": "canary"}, "ring 'canary' is not a ring (pilot, broad)"),
    ({"promote-to": "everyone"}, "promote-to 'everyone' is not a ring"),
    ({"rings": "pilot: 5"}, "ring 'pilot' in the rings input is neither a mapping nor a list"),
    ({"rings": "pilot: {groups: [A], colour: red}"}, "has unknown key(s) colour"),
    ({"rings": "pilot: {intent: required}"}, "ring 'pilot' in the rings input assigns nothing"),
    ({"rings": "'bad name!': {target: all-users}"}, "must be letters, digits"),
    ({"rings": "pilot: {groups: A B}"}, None),  # one name with a space is a name
    ({"ring": "pilot", "assignments": "- intent: available\n  group: Pilot devices"},
     "assignments and ring 'pilot' entries 1 and 2 both target"),
    ({"ring": "pilot", "graph-version": "v1.0",
      "rings": "pilot: {groups: [A], filter: {name: F}}"}, "needs graph-version beta"),
])
def test_ring_inputs_are_checked_offline(workspace: Path, raw: dict[str, str],
                                         message: str | None) -> None:
    values = {"file": "app.ipa", **raw}
    if message is None:
        build_options(values, workspace)
        return
    with pytest.raises(SettingsError) as caught:
        build_options(values, workspace)
    line = caught.value.one_line()
    assert message in line and "Fix:" in line


def test_the_settings_file_refuses_rings_that_are_not_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "intune-step.yml").write_text("settings: {}\nrings: [pilot]\n")
    with pytest.raises(SettingsError, match="rings must be a mapping"):
        parse_rings({}, tmp_path)
