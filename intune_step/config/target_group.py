"""A named-settings entry that names several targets: one run publishes to all of them.

::

    settings:
      contoso: {client-id: ..., auth-url: ..., client-secret-env: CONTOSO_SECRET}
      fabrikam: {client-id: ..., auth-url: ..., credential: certificate, ...}
      everywhere:
        max-tenants: 2                # targets published at once (default 4)
        targets:
          - contoso                   # a setting of this file, as it is
          - setting: fabrikam         # or with its own publish inputs: group, filter and
            ring: pilot               # scope tag IDs differ between tenants (names resolve
            assignments:              # in each tenant as it is published)
              - {intent: required, group: 0f8fad5b-d9cb-469f-a165-70867728950e}

A target is a setting of the same file (tenant, credential) plus, per target, the publish
inputs whose values differ between tenants (:data:`TARGET_INPUTS`); they override the run's
inputs of the same name for that target only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intune_step.errors import SettingsError

# Publish inputs a target may set for itself: their values name things that exist per tenant
# (group and filter IDs, scope tag IDs, which ring). A target's setting may also carry its own
# `rings:` (config/rings.py), found by the setting name each target's inputs get.
TARGET_INPUTS = ("assignments", "replace-assignments", "categories", "scope-tags", "ring",
                 "rings")
DEFAULT_MAX_TENANTS = 4
MAX_TENANTS_LIMIT = 32
GROUP_KEYS = ("targets", "max-tenants")


@dataclass(frozen=True)
class TargetRef:
    setting: str  # the entry that says where and as whom
    inputs: dict[str, str]  # this target's own publish inputs (YAML text for structures)


@dataclass(frozen=True)
class TargetGroup:
    name: str
    targets: tuple[TargetRef, ...]
    max_tenants: int


def is_group(body: Any) -> bool:
    return isinstance(body, dict) and "targets" in body


def parse_group(where: str, name: str, body: dict[Any, Any]) -> TargetGroup:
    """The entry's targets and bound; every problem names the entry and the key."""
    unknown = sorted(str(k) for k in body if str(k) not in GROUP_KEYS)
    if unknown:
        raise SettingsError(f"{where} names targets, so it cannot also set {', '.join(unknown)}",
                            fix="put connection keys in each target's own entry; a target "
                                f"may set {', '.join(TARGET_INPUTS)}")
    items = body["targets"]
    if not isinstance(items, list) or not items:
        raise SettingsError(f"{where}: targets must be a list of setting names",
                            fix="e.g. targets: [contoso, fabrikam]")
    refs = tuple(_ref(where, item) for item in items)
    names = [ref.setting for ref in refs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SettingsError(f"{where} names {', '.join(twice)} twice",
                            fix="name each target once")
    bound = body.get("max-tenants", DEFAULT_MAX_TENANTS)
    if isinstance(bound, bool) or not isinstance(bound, int) or not (
            1 <= bound <= MAX_TENANTS_LIMIT):
        raise SettingsError(f"{where}: max-tenants must be a whole number from 1 to "
                            f"{MAX_TENANTS_LIMIT}, not {bound!r}", fix="e.g. max-tenants: 4")
    return TargetGroup(name, refs, bound)


def _ref(where: str, item: Any) -> TargetRef:
    if isinstance(item, str) and item.strip():
        return TargetRef(item.strip(), {})
    if not isinstance(item, dict) or not isinstance(item.get("setting"), str):
        raise SettingsError(f"{where}: each target is a setting name or a mapping with "
                            "`setting:`", fix="e.g. - setting: contoso")
    inputs: dict[str, str] = {}
    for key, value in item.items():
        key = str(key)
        if key == "setting" or value is None:
            continue
        if key not in TARGET_INPUTS:
            raise SettingsError(f"{where}, target {item['setting']!r}: unknown key {key}",
                                fix=f"a target may set {', '.join(TARGET_INPUTS)}")
        if isinstance(value, dict | list):
            import yaml  # only a file with targets was parsed: yaml is loaded already

            inputs[key] = yaml.safe_dump(value, sort_keys=False)
        elif isinstance(value, bool):
            inputs[key] = "true" if value else "false"
        else:
            inputs[key] = str(value)
    return TargetRef(item["setting"].strip(), inputs)
