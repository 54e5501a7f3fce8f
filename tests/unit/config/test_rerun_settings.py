"""The re-run, assignment and metadata inputs are validated offline, each error with its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from intune_step.config.options import DEFAULT_LOCK_TIMEOUT, build_options
from intune_step.errors import SettingsError


def options(**inputs: str):
    raw = {"file": "app.ipa", **{k.replace("_", "-"): v for k, v in inputs.items()}}
    return build_options(raw, Path("/ws"))


def test_defaults() -> None:
    got = options()
    assert got.assignments is None and got.replace_assignments is False
    assert got.categories == () and got.scope_tags is None and got.icon is None
    assert got.allow_downgrade is False and got.lock_timeout == DEFAULT_LOCK_TIMEOUT


def test_values() -> None:
    got = options(assignments="- intent: available\n  target: all-users",
                  replace_assignments="true", categories="Business, productivity ,business",
                  scope_tags="0, 12\n7", icon="art/icon.png", allow_downgrade="True",
                  lock_timeout="0")
    assert got.assignments is not None and got.assignments[0].intent == "available"
    assert got.replace_assignments and got.allow_downgrade and got.lock_timeout == 0
    assert got.categories == ("Business", "productivity")
    assert got.scope_tags == ("0", "12", "7")
    assert got.icon == Path("/ws/art/icon.png")


def test_categories_one_per_line_may_hold_commas() -> None:
    assert options(categories="- Books, Reference\n- Business\n").categories == (
        "Books, Reference", "Business")


@pytest.mark.parametrize(("inputs", "message"), [
    ({"scope_tags": "Default"}, "scope tag IDs (numbers)"),
    ({"scope_tags": "0", "graph_version": "v1.0"}, "need graph-version beta"),
    ({"lock_timeout": "10m"}, "whole number of seconds"),
    ({"replace_assignments": "yes"}, "replace-assignments must be true or false"),
    ({"allow_downgrade": "1"}, "allow-downgrade must be true or false"),
    ({"assignments": "- intent: required"}, "names no target"),
])
def test_refusals(inputs: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        options(**inputs)
    assert message in caught.value.one_line()
