"""The targets of a run: one raw input mapping per tenant, each completed from its setting.

When the selected named-settings entry names targets (target_group.py), every target gets the
run's inputs, its own publish inputs over them, and its setting's connection and credential
(secrets from the variables the setting names), exactly as one named setting would.
Connection inputs given to the run itself would send every target to one tenant, so they are
refused there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from intune_step.config.credentials import KIND_OF_INPUT
from intune_step.config.named_settings import apply_named_setting, selected_group
from intune_step.config.text import clean
from intune_step.errors import SettingsError
from intune_step.report import Reporter

CONNECTION_INPUTS = ("client-id", "auth-url", "graph-url", "expected-tenant", "client-secret",
                     "certificate", "certificate-password", "managed-identity-id",
                     *KIND_OF_INPUT)


@dataclass(frozen=True)
class TargetInputs:
    name: str  # the setting's name: the key of the `targets` output
    raw: dict[str, str | None]


@dataclass(frozen=True)
class Targets:
    group: str
    targets: tuple[TargetInputs, ...]
    max_tenants: int


def expand_targets(raw: Mapping[str, str | None], workspace: Path, environ: Mapping[str, str],
                   reporter: Reporter, allowed_hosts: tuple[str, ...] = ()) -> Targets | None:
    """The run's targets, or None when the inputs select no entry naming targets."""
    group = selected_group(raw, workspace)
    if group is None:
        return None
    given = sorted({key for key in CONNECTION_INPUTS if clean(raw, key)}
                   | ({"credential"} if (clean(raw, "credential") or "auto") != "auto" else set()))
    if given:
        raise SettingsError(
            f"setting {group.name!r} names several targets, each with its own connection, but "
            f"{', '.join(given)} {'was' if len(given) == 1 else 'were'} given as inputs too",
            fix="drop those inputs (each target's entry in the settings file has its own), or "
                "pick one target with setting-name")
    targets = []
    for ref in group.targets:
        own = {**raw, **ref.inputs, "setting-name": ref.setting}
        targets.append(TargetInputs(ref.setting, apply_named_setting(
            own, workspace, environ, reporter, allowed_hosts)))
    return Targets(group.name, tuple(targets), group.max_tenants)
