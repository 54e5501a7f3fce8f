"""A run to several targets ends in a `targets` map, a row per target and 0, 4 or 5."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from intune_step.artifacts.base import AppMetadata, PlainContent
from intune_step.commands.target_outputs import (
    targets_exit_code,
    targets_markdown,
    targets_outputs,
)
from intune_step.config.options import build_options
from intune_step.config.settings import build_settings
from intune_step.errors import (
    EXIT_GATE_FAILED,
    EXIT_GATE_TIMEOUT,
    EXIT_NO_TARGET,
    EXIT_OK,
    EXIT_SOME_TARGETS,
    AuthError,
)
from intune_step.publish.result import PublishResult
from intune_step.publish.several import Outcome
from intune_step.publish.targets import Target, TargetOutcome

META = AppMetadata("androidLobApp", "a.apk", "com.a", "1", PlainContent(Path("a.apk"), 1))


def target(name: str, tenant: str) -> Target:
    settings = build_settings({"client-id": "11111111-2222-3333-4444-555555555555",
                               "client-secret": "s" * 8, "setting-name": name,
                               "auth-url": f"https://login.microsoftonline.com/{tenant}"})
    return Target(name, settings, build_options({"file": "a.apk"}, Path.cwd()))


def published(operation: str) -> Outcome:
    fields = {f.name: "x" for f in dataclasses.fields(PublishResult)}
    fields.update(operation=operation, plan="", app_url="https://intune/x")
    return Outcome("a.apk", META, PublishResult(**fields))


def test_the_map_has_every_target_and_one_target_keeps_the_flat_outputs() -> None:
    ok = TargetOutcome(target("a", "a.example"), [published("created")])
    failed = TargetOutcome(target("b", "b.example"), error=AuthError("no consent", fix="grant"))
    out = targets_outputs([ok, failed])
    table = json.loads(out["targets"])
    assert list(table) == ["a", "b"]
    assert table["a"]["status"] == "succeeded" and table["a"]["operation"] == "created"
    assert table["a"]["tenant"] == "a.example" and table["a"]["exit-code"] == 0
    assert table["b"] == {"tenant": "b.example", "status": "failed", "exit-code": 2,
                          "error": "AuthError: no consent Fix: grant"}
    assert "app-id" not in out  # which target's would it be?
    only = targets_outputs([ok])
    assert only["operation"] == "created" and "targets" in only


def test_exit_codes_say_all_some_or_none() -> None:
    ok = TargetOutcome(target("a", "a.example"), [published("unchanged")])
    bad = TargetOutcome(target("b", "b.example"), error=AuthError("no"))
    half = TargetOutcome(target("c", "c.example"),
                         [Outcome("a.apk", META, error=AuthError("no"))])
    assert targets_exit_code([ok, ok]) == EXIT_OK
    assert targets_exit_code([ok, bad]) == EXIT_SOME_TARGETS
    assert targets_exit_code([ok, half]) == EXIT_SOME_TARGETS  # a target is all its artifacts
    assert targets_exit_code([bad, half]) == EXIT_NO_TARGET
    assert len({EXIT_OK, EXIT_SOME_TARGETS, EXIT_NO_TARGET, EXIT_GATE_FAILED, EXIT_GATE_TIMEOUT,
                1, 2, 3, 130}) == 9  # every end has its own code


def test_the_summary_has_a_row_per_target() -> None:
    ok = TargetOutcome(target("a", "a.example"), [published("created")])
    bad = TargetOutcome(target("b|c", "b.example"), error=AuthError("no consent"))
    text = targets_markdown([ok, bad], "everywhere")
    rows = [line for line in text.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == 2
    assert rows[0].startswith("| a | a.example | succeeded | a.apk: [created](https://intune/x)")
    assert rows[1].startswith("| b\\|c | b.example | failed: AuthError: no consent")
    assert "1 of 2 targets failed" in text and "Setting: everywhere" in text
