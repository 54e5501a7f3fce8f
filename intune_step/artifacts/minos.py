"""Map an artifact's minimum OS onto Graph's ``minimumSupportedOperatingSystem`` flags.

Graph wants exactly one boolean flag set. The rule (docs/protocol.md, "Minimum OS flags"):
take the highest flag not above the artifact's minimum, clamped to the list. One table per
Graph version, because the lists differ and grow; the lists come from Microsoft's
generated SDK models: msgraph-beta-sdk for beta and msgraph-sdk for v1.0 (the versions in
intune_step/emulator/graph_models.json, which tests/unit/test_graph_models.py compares with
these tables). The v1.0 lists are older and shorter: Windows stops at v10_0.
"""

from __future__ import annotations

from intune_step.artifacts.base import MinimumOs

FlagTable = dict[str, list[str]]

BETA: FlagTable = {
    "ios": ["v8_0", "v9_0", "v10_0", "v11_0", "v12_0", "v13_0", "v14_0", "v15_0", "v16_0",
            "v17_0", "v18_0", "v26_0", "v27_0"],
    "android": ["v4_0", "v4_0_3", "v4_1", "v4_2", "v4_3", "v4_4", "v5_0", "v5_1", "v6_0",
                "v7_0", "v7_1", "v8_0", "v8_1", "v9_0", "v10_0", "v11_0", "v12_0", "v13_0",
                "v14_0", "v15_0"],
    "macos": ["v10_7", "v10_8", "v10_9", "v10_10", "v10_11", "v10_12", "v10_13", "v10_14",
              "v10_15", "v11_0", "v12_0", "v13_0", "v14_0", "v15_0", "v26_0", "v27_0"],
    "windows": ["v8_0", "v8_1", "v10_0", "v10_1607", "v10_1703", "v10_1709", "v10_1803",
                "v10_1809", "v10_1903", "v10_1909", "v10_2004", "v10_2H20", "v10_21H1"],
}

V1: FlagTable = {
    "ios": ["v8_0", "v9_0", "v10_0", "v11_0", "v12_0", "v13_0", "v14_0", "v15_0"],
    "android": ["v4_0", "v4_0_3", "v4_1", "v4_2", "v4_3", "v4_4", "v5_0", "v5_1", "v6_0",
                "v7_0", "v7_1", "v8_0", "v8_1", "v9_0", "v10_0", "v11_0"],
    "macos": ["v10_7", "v10_8", "v10_9", "v10_10", "v10_11", "v10_12", "v10_13", "v10_14",
              "v10_15", "v11_0", "v12_0", "v13_0"],
    "windows": ["v8_0", "v8_1", "v10_0"],
}

TABLES: dict[str, FlagTable] = {"beta": BETA, "v1.0": V1}

# Android API level -> release, for minSdkVersion.
ANDROID_RELEASES: dict[int, str] = {
    14: "4.0", 15: "4.0.3", 16: "4.1", 17: "4.2", 18: "4.3", 19: "4.4", 20: "4.4", 21: "5.0",
    22: "5.1", 23: "6.0", 24: "7.0", 25: "7.1", 26: "8.0", 27: "8.1", 28: "9.0", 29: "10.0",
    30: "11.0", 31: "12.0", 32: "12.0", 33: "13.0", 34: "14.0", 35: "15.0", 36: "16.0",
}

# Windows 10 build -> the release flag's ordering key (its position in a sorted list).
WINDOWS_BUILDS: list[tuple[int, str]] = [
    (10240, "v10_0"), (14393, "v10_1607"), (15063, "v10_1703"), (16299, "v10_1709"),
    (17134, "v10_1803"), (17763, "v10_1809"), (18362, "v10_1903"), (18363, "v10_1909"),
    (19041, "v10_2004"), (19042, "v10_2H20"), (19043, "v10_21H1"),
]


def android_release(min_sdk: int) -> str:
    """The Android release for an API level (below 14 -> 4.0, above the table -> newest)."""
    if min_sdk in ANDROID_RELEASES:
        return ANDROID_RELEASES[min_sdk]
    if min_sdk < 14:
        return "4.0"
    return ANDROID_RELEASES[max(ANDROID_RELEASES)]


def _version_key(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.replace("_", ".").split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) or (0,)


def _flag_key(flag: str) -> tuple[int, ...]:
    return _version_key(flag.lstrip("v"))


def _windows_flag(version: str, flags: list[str]) -> str:
    key = _version_key(version)
    if key[:2] in ((6, 2), (8, 0)):
        return "v8_0"
    if key[:2] in ((6, 3), (8, 1)):
        return "v8_1"
    build = key[2] if len(key) >= 3 else 0
    chosen = "v10_0"
    for min_build, flag in WINDOWS_BUILDS:
        if build >= min_build and flag in flags:
            chosen = flag
    return chosen


def minimum_os_flags(minimum: MinimumOs, graph_version: str = "beta") -> dict[str, bool]:
    """The single-flag object for ``minimum`` under the given Graph version's table."""
    table = TABLES.get(graph_version, BETA)
    flags = table[minimum.platform]
    if minimum.platform == "windows":
        return {_windows_flag(minimum.version, flags): True}
    wanted = _version_key(minimum.version)
    chosen = flags[0]
    for flag in flags:  # flags are in ascending order
        if _flag_key(flag) <= wanted:
            chosen = flag
    return {chosen: True}


def odata_type(platform: str) -> str | None:
    """The @odata.type Graph expects on the flag object (only macOS tools send one)."""
    return "#microsoft.graph.macOSMinimumOperatingSystem" if platform == "macos" else None
