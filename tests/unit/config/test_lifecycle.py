"""The lifecycle keys of the win32 input and the versioning input, checked offline."""

from __future__ import annotations

import pytest

from intune_step.config.lifecycle import Dependency, Lifecycle, parse_versioning
from intune_step.config.win32 import parse_win32
from intune_step.errors import SettingsError


def lifecycle(text: str) -> Lifecycle:
    config = parse_win32(text)
    assert config is not None
    return config.lifecycle


def test_defaults_and_every_key() -> None:
    assert lifecycle("display-version: '1.0'") == Lifecycle()
    assert lifecycle(
        "supersedence: Replace\nauto-update-superseded: true\nkeep-versions: 3\n"
        "dependencies:\n  - Contoso Runtime\n  - {app: 0f0e0d0c-0000-0000-0000-000000000001, "
        "type: detect}\n") == Lifecycle(
        supersedence="replace", auto_update_superseded=True, keep_versions=3,
        dependencies=(Dependency("Contoso Runtime", "autoInstall"),
                      Dependency("0f0e0d0c-0000-0000-0000-000000000001", "detect")))


@pytest.mark.parametrize(("text", "message"), [
    ("supersedence: upgrade", "is not update or replace"),
    ("keep-versions: 1", "from 2 to 10"),
    ("keep-versions: 11", "from 2 to 10"),
    ("keep-versions: '3'", "from 2 to 10"),
    ("auto-update-superseded: yes please", "true or false"),
    ("dependencies: Contoso", "must be a list"),
    ("dependencies: [{app: A, type: install}]", "not auto-install or detect"),
    ("dependencies: [{name: A}]", "must be {app"),
    ("dependencies: [A, a]", "listed twice"),
])
def test_bad_values_name_the_key_and_the_fix(text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        parse_win32(text)
    assert caught.value.fix


def test_versioning() -> None:
    assert parse_versioning(None) == "in-place" and parse_versioning(" New-App ") == "new-app"
    with pytest.raises(SettingsError, match="in-place or new-app"):
        parse_versioning("per-version")
