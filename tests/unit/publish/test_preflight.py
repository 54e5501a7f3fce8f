"""Preflight: the version moves forward unless allowed; expired profiles and oversize files
stop the run before any write, each with the fix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from intune_step.artifacts.base import AppMetadata, PlainContent
from intune_step.errors import BadInputError
from intune_step.publish.preflight import check_file, check_version


def meta(app_type: str = "iosLobApp", size: int = 10, **properties: object) -> AppMetadata:
    return AppMetadata(app_type=app_type, file_name="a.ipa", identity="com.a", version="1",
                       content=PlainContent(Path("/nonexistent"), size), properties=properties)


def test_newer_passes_quietly() -> None:
    assert check_version(meta(buildNumber="11"), {"id": "A", "buildNumber": "10"}, False) == []


def test_older_is_refused_with_the_field_to_raise() -> None:
    with pytest.raises(BadInputError) as caught:
        check_version(meta(buildNumber="9"), {"id": "A", "buildNumber": "10"}, False)
    text = caught.value.one_line()
    assert "buildNumber 9 is older than 10" in text and "app A" in text
    assert "raise CFBundleVersion above 10" in text and "allow-downgrade: true" in text


def test_same_version_with_other_bytes_is_refused() -> None:
    with pytest.raises(BadInputError, match="already the version"):
        check_version(meta("androidLobApp", versionCode="10"), {"id": "A", "versionCode": "10"},
                      False)


def test_allow_downgrade_turns_refusals_into_warnings() -> None:
    warnings = check_version(meta(buildNumber="9"), {"id": "A", "buildNumber": "10"}, True)
    assert len(warnings) == 1 and "older than 10" in warnings[0]


def test_versions_that_cannot_be_ordered_only_warn() -> None:
    warnings = check_version(meta(buildNumber="9-beta"), {"id": "A", "buildNumber": "10"},
                             False)
    assert len(warnings) == 1 and "cannot order" in warnings[0]


def test_expired_profile_is_refused() -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(BadInputError, match="provisioning profile expired"):
        check_file(meta(expirationDateTime=past))
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    check_file(meta(expirationDateTime=future))


def test_win32_over_30_gb_is_refused_and_other_types_are_not_capped() -> None:
    with pytest.raises(BadInputError, match="30 GB"):
        check_file(meta("win32LobApp", size=30 * 1000**3))
    check_file(meta("win32LobApp", size=29 * 1000**3))
    check_file(meta("macOSPkgApp", size=40 * 1000**3))
