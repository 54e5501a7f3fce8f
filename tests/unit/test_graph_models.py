"""The step's own tables of Graph facts agree with Microsoft's generated SDK models, as the
emulator reads them from intune_step/emulator/graph_models.json (scripts/graph-models)."""

from __future__ import annotations

import pytest

from intune_step.artifacts.minos import TABLES
from intune_step.emulator import schema
from intune_step.graph.bodies import BETA_ONLY_FIELDS

FLAG_TYPES = {
    "ios": "iosMinimumOperatingSystem",
    "android": "androidMinimumOperatingSystem",
    "macos": "macOSMinimumOperatingSystem",
    "windows": "windowsMinimumOperatingSystem",
}


@pytest.mark.parametrize("version", ["beta", "v1.0"])
@pytest.mark.parametrize("platform", sorted(FLAG_TYPES))
def test_minimum_os_tables_are_the_sdk_flags(version: str, platform: str) -> None:
    sdk = set(schema.model(version).properties(FLAG_TYPES[platform]))
    assert set(TABLES[version][platform]) == sdk


def test_beta_only_fields_are_beta_only() -> None:
    beta, v1 = schema.model("beta"), schema.model("v1.0")
    for type_name, fields in BETA_ONLY_FIELDS.items():
        for name in fields:
            assert name in beta.properties(type_name), (type_name, name)
            assert name not in v1.properties(type_name), (type_name, name)


def test_the_sdk_versions_are_recorded() -> None:
    versions = schema.sdk_versions()
    assert versions["v1.0"].startswith("msgraph-sdk==")
    assert versions["beta"].startswith("msgraph-beta-sdk==")
