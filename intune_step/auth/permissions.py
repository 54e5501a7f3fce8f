"""Which features the token's application permissions (its ``roles`` claim) allow.

`intune-step check` prints one line per feature. The roles each one needs are those Microsoft
documents for the calls it makes (docs/protocol.md, "Permission" and "Reports"): any one role
of a feature's list is enough.
"""

from __future__ import annotations

from dataclasses import dataclass

WRITE = "DeviceManagementApps.ReadWrite.All"


@dataclass(frozen=True)
class Feature:
    name: str
    roles: tuple[str, ...]  # any one of them will do

    def granted(self, held: tuple[str, ...]) -> bool:
        return any(role in held for role in self.roles)

    def line(self, held: tuple[str, ...]) -> str:
        if self.granted(held):
            role = next(role for role in self.roles if role in held)
            return f"{self.name}: ok ({role})"
        return f"{self.name}: missing (needs {' or '.join(self.roles)})"


FEATURES = (
    Feature("publish, assign and roll back apps", (WRITE,)),
    Feature("read apps and export jobs", ("DeviceManagementApps.Read.All", WRITE)),
    # POST exportJobs documents these application permissions (ReadWrite only).
    Feature("install gate (install status reports)",
            (WRITE, "DeviceManagementConfiguration.ReadWrite.All",
             "DeviceManagementManagedDevices.ReadWrite.All")),
    Feature("groups by name, and install-group", ("Group.Read.All",)),
    Feature("assignment filters by name",
            ("DeviceManagementConfiguration.Read.All",
             "DeviceManagementConfiguration.ReadWrite.All")),
)


def feature_lines(roles: tuple[str, ...]) -> list[tuple[bool, str]]:
    """(granted, line) for every feature, in the order above."""
    return [(feature.granted(roles), feature.line(roles)) for feature in FEATURES]
