"""Entries naming several targets: parsed strictly, expanded into one input set per target."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from intune_step.config.named_settings import apply_named_setting, load_settings_file
from intune_step.config.targets import expand_targets
from intune_step.errors import SettingsError
from intune_step.report import RecordingReporter

A_ID = "11111111-2222-3333-4444-555555555555"
B_ID = "22222222-2222-3333-4444-555555555555"
ENV = {"A_SECRET": "a-secret-value", "B_SECRET": "b-secret-value"}


def write(tmp_path: Path, everywhere: object, default: str | None = "everywhere") -> Path:
    data: dict[str, object] = {"settings": {
        "a": {"client-id": A_ID, "client-secret-env": "A_SECRET",
              "auth-url": "https://login.microsoftonline.com/a.onmicrosoft.com"},
        "b": {"client-id": B_ID, "client-secret-env": "B_SECRET",
              "auth-url": "https://login.microsoftonline.com/b.onmicrosoft.com"},
        "everywhere": everywhere}}
    if default:
        data["default"] = default
    (tmp_path / "intune-step.yml").write_text(yaml.safe_dump(data))
    return tmp_path


def test_each_target_gets_its_setting_and_its_own_inputs(tmp_path: Path) -> None:
    group = {"max-tenants": 2, "targets": ["a", {"setting": "b", "assignments": [
        {"intent": "required", "group": "0f8fad5b-d9cb-469f-a165-70867728950e"}]}]}
    reporter = RecordingReporter()
    raw = {"file": "app.ipa", "assignments": "- intent: available\n  target: all-users\n"}
    targets = expand_targets(raw, write(tmp_path, group), ENV, reporter)
    assert targets is not None and targets.group == "everywhere" and targets.max_tenants == 2
    a, b = targets.targets
    assert (a.name, b.name) == ("a", "b")
    assert a.raw["client-id"] == A_ID and a.raw["client-secret"] == "a-secret-value"
    assert b.raw["client-id"] == B_ID and b.raw["client-secret"] == "b-secret-value"
    assert a.raw["assignments"] == raw["assignments"]  # the run's
    assert yaml.safe_load(b.raw["assignments"] or "") == [  # its own, in place of the run's
        {"intent": "required", "group": "0f8fad5b-d9cb-469f-a165-70867728950e"}]
    assert set(reporter.masked) == {"a-secret-value", "b-secret-value"}


def test_an_ordinary_setting_is_not_expanded(tmp_path: Path) -> None:
    path = write(tmp_path, {"targets": ["a"]})
    assert expand_targets({"setting-name": "a"}, path, ENV, RecordingReporter()) is None
    assert expand_targets({}, write(tmp_path, {"targets": ["a"]}, default=None), ENV,
                          RecordingReporter()) is None


def test_connection_inputs_beside_targets_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, {"targets": ["a", "b"]})
    for raw in ({"client-id": A_ID}, {"client-secret": "x"}, {"credential": "certificate"},
                {"auth-url": "https://login.microsoftonline.com/c.onmicrosoft.com"}):
        with pytest.raises(SettingsError, match="names several targets"):
            expand_targets(raw, path, ENV, RecordingReporter())
    assert expand_targets({"credential": "auto"}, path, ENV, RecordingReporter()) is not None


@pytest.mark.parametrize(("group", "problem"), [
    ({"targets": []}, "must be a list"),
    ({"targets": "a"}, "must be a list"),
    ({"targets": ["a", "a"]}, "names a twice"),
    ({"targets": ["c"]}, "target 'c' is not a setting"),
    ({"targets": ["everywhere"]}, "target 'everywhere' is not a setting"),
    ({"targets": [{"setting": "a", "client-id": A_ID}]}, "unknown key client-id"),
    ({"targets": [{"assignments": "x"}]}, "mapping with `setting:`"),
    ({"targets": ["a"], "client-id": A_ID}, "cannot also set client-id"),
    ({"targets": ["a"], "max-tenants": 0}, "max-tenants must be"),
    ({"targets": ["a"], "max-tenants": "all"}, "max-tenants must be"),
    ({"targets": ["a"], "max-tenants": 33}, "max-tenants must be"),
])
def test_bad_groups_are_refused_naming_the_entry(tmp_path: Path, group: object,
                                                 problem: str) -> None:
    with pytest.raises(SettingsError, match=problem) as caught:
        load_settings_file(write(tmp_path, group) / "intune-step.yml")
    assert "'everywhere'" in str(caught.value)


def test_one_tenant_commands_refuse_a_group(tmp_path: Path) -> None:
    path = write(tmp_path, {"targets": ["a", "b"]})
    with pytest.raises(SettingsError, match="names several targets") as caught:
        apply_named_setting({}, path, ENV, RecordingReporter())
    assert "a, b" in (caught.value.fix or "")
