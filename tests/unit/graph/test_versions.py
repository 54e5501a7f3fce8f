"""Versions compare as numbers, part by part, per app type's version field."""

from __future__ import annotations

import pytest

from intune_step.graph.versions import compare, parse_version


@pytest.mark.parametrize(("text", "parsed"), [
    ("1.2.10", (1, 2, 10)), ("10", (10,)), ("2.0", (2,)), ("2.0.0", (2,)), ("0", (0,)),
    (" 3.1 ", (3, 1)), (42, (42,)),
    ("1.2b", None), ("", None), ("1..2", None), ("v1", None), (None, None), (True, None),
    ("1.-2", None),
])
def test_parse_version(text: object, parsed: tuple[int, ...] | None) -> None:
    assert parse_version(text) == parsed  # type: ignore[arg-type]


@pytest.mark.parametrize(("app_type", "current", "new", "order"), [
    ("iosLobApp", {"buildNumber": "1.9"}, {"buildNumber": "1.10"}, 1),  # "1.10" < "1.9" as text
    ("iosLobApp", {"buildNumber": "2.0"}, {"buildNumber": "2.0.0"}, 0),
    ("iosLobApp", {"buildNumber": "100"}, {"buildNumber": "99"}, -1),
    ("androidLobApp", {"versionCode": "9"}, {"versionCode": "10"}, 1),
    ("windowsMobileMSI", {"productVersion": "1.2.300"}, {"productVersion": "1.2.40"}, -1),
    ("windowsUniversalAppX", {"identityVersion": "1.0.0.9"},
     {"identityVersion": "1.0.0.10"}, 1),
    ("macOSPkgApp", {"primaryBundleVersion": "3.4"}, {"primaryBundleVersion": "3.4.1"}, 1),
    ("iosLobApp", {"buildNumber": "1.0b"}, {"buildNumber": "1.1"}, None),
])
def test_compare(app_type: str, current: dict, new: dict, order: int | None) -> None:
    result = compare(app_type, current, new)
    assert result is not None and result.order == order


def test_compare_uses_the_first_field_both_sides_have() -> None:
    result = compare("iosLobApp", {"versionNumber": "2.0"}, {"buildNumber": "7",
                                                            "versionNumber": "2.1"})
    assert result is not None and result.field == "versionNumber" and result.order == 1
    assert compare("iosLobApp", {}, {"buildNumber": "7"}) is None
    assert compare("win32LobApp", {"displayVersion": ""}, {"displayVersion": "1"}) is None
    assert compare("unknownType", {"x": "1"}, {"x": "2"}) is None
