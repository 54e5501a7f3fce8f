"""action.yml is the single source of input and output names."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml
from click.testing import CliRunner

from intune_step.artifacts.base import AppMetadata, PlainContent
from intune_step.commands.cli import env_name, main
from intune_step.commands.outputs import TARGETS_OUTPUT, step_outputs
from intune_step.config.action import action_definition, action_yml_path, input_names
from intune_step.config.credentials import KIND_OF_INPUT
from intune_step.config.gate import parse_gate
from intune_step.config.options import build_options
from intune_step.config.settings import build_settings
from intune_step.publish.gate import GateStatus
from intune_step.publish.result import PublishResult
from intune_step.publish.several import Outcome

INPUTS = ["file", "client-id", "client-secret", "auth-url", "setting-name", "graph-url",
          "app-id", "display-name", "description", "publisher", "dry-run"]
OUTPUTS = ["app-id", "content-version-id", "app-type", "operation", "version", "app-url",
           "file-sha256", "plan", "rings", "installed", "failed", "pending", "not-applicable",
           "gate", "results", "targets"]


def test_the_interface_of_the_issue_is_declared() -> None:
    definition = yaml.safe_load(action_yml_path().read_text())
    assert set(INPUTS) <= set(definition["inputs"])
    assert list(definition["outputs"]) == OUTPUTS
    assert definition["runs"]["using"] == "docker"
    assert definition["inputs"]["file"]["required"] is True
    for spec in definition["inputs"].values():
        assert spec["description"]


def test_every_input_is_read_by_the_settings_code() -> None:
    """Each input changes the settings or options when set: none is silently ignored."""
    base = {"file": "a.ipa", "client-id": "11111111-2222-3333-4444-555555555555",
            "client-secret": "x" * 8,
            "auth-url": "https://login.microsoftonline.com/t1/oauth2/v2.0/token",
            "rings": "pilot: {target: all-users}\nbroad: {target: all-devices}"}
    samples = {"ring": "pilot", "promote-to": "broad", "promote-from": "pilot",
               "rings": "pilot: {target: all-devices}\nbroad: {target: all-devices}",
               "setting-name": "S", "graph-url": "https://graph-proxy.contoso.example",
               "graph-version": "v1.0", "app-id": "aaaaaaaa-2222-3333-4444-555555555555",
               "display-name": "D", "description": "E", "publisher": "P", "dry-run": "true",
               "assignments": "- intent: available\n  target: all-users",
               "replace-assignments": "true", "categories": "Business", "scope-tags": "0,7",
               "icon": "icon.png", "allow-downgrade": "true", "lock-timeout": "5",
               "credential": "github-oidc", "certificate": "-----BEGIN PRIVATE KEY-----",
               "certificate-file": "cert.pfx", "certificate-password": "pw",
               "send-certificate-chain": "true", "federated-token-env": "ID_TOKEN",
               "federated-token-file": "token.jwt",
               "service-connection-id": "bbbbbbbb-2222-3333-4444-555555555555",
               "managed-identity-id": "object-id:dddddddd-2222-3333-4444-555555555555",
               "expected-tenant": "cccccccc-2222-3333-4444-555555555555",
               "settings-file": "ops/intune-step.yml",
               "win32": "install-command: setup.exe /S", "bundle-id": "com.contoso.app",
               "bundle-version": "1.2", "macos-app-type": "lob",
               "properties": "owner: Mobile team", "max-parallel": "5", "versioning": "new-app",
               "wait-for-installs": "true", "installs-required": "80%",
               "failures-allowed": "2", "install-timeout": "45m",
               "install-group": "dddddddd-2222-3333-4444-555555555555",
               "file": "b.ipa", "client-id": "99999999-2222-3333-4444-555555555555",
               "client-secret": "y" * 8,
               "auth-url": "https://login.microsoftonline.com/t2/oauth2/v2.0/token"}
    assert set(samples) == set(input_names())

    def snapshot(values: dict[str, str]) -> dict[str, object]:
        settings = dataclasses.asdict(build_settings(values))
        return {**settings, **dataclasses.asdict(build_options(values)),
                **{f"gate_{k}": v for k, v in dataclasses.asdict(parse_gate(values)).items()}}

    before = snapshot(base)
    for name in input_names():
        values = {**base, name: samples[name]}
        if name in KIND_OF_INPUT and name != "client-secret":  # instead of it, not beside it
            values.pop("client-secret")
        if name == "managed-identity-id":  # names the identity of these credentials only
            values.update(credential="managed-identity-federation")
            values.pop("client-secret")
        assert snapshot(values) != before, name


def test_cli_options_come_from_action_yml() -> None:
    help_text = CliRunner().invoke(main, ["publish", "--help"]).output
    for name in input_names():
        if name != "file":
            assert f"--{name}" in help_text
            assert env_name(name) in help_text


def test_outputs_written_are_the_declared_outputs() -> None:
    fields = {f.name: "x" for f in dataclasses.fields(PublishResult)}
    fields["plan"] = "{}"
    meta = AppMetadata("androidLobApp", "a.apk", "com.a", "1", PlainContent(Path("a.apk"), 1))
    outcome = Outcome("a.apk", meta, PublishResult(**fields), gate=GateStatus("1.0"))
    *declared, targets = list(action_definition()["outputs"])
    assert targets == TARGETS_OUTPUT  # a run to several targets (test_target_outputs.py)
    assert [*step_outputs([outcome], several=False), "results"] == declared  # one path
    assert list(step_outputs([outcome], several=True)) == declared  # a pattern, one match
    assert list(step_outputs([outcome, outcome], several=True)) == declared  # several
