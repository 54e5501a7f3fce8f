"""Which features the token's application permissions (its ``roles`` claim) allow.

`intune-step check` prints one line per feature. The roles each one needs are those Microsoft
documents for the calls it makes (docs/protocol.md, "Permission" and "Reports"): any one role
of a feature's list is enough.
"""

from __future__ import annotations

from dataclasses import dataclass

from intune_step.auth.guards import MissingPermissionError

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


GATE = Feature("install gate (install status reports)",  # POST exportJobs: ReadWrite only
               (WRITE, "DeviceManagementConfiguration.ReadWrite.All",
                "DeviceManagementManagedDevices.ReadWrite.All"))
GROUPS = Feature("groups by name, and install-group",
                 ("Group.Read.All", "GroupMember.Read.All", "Directory.Read.All"))
FEATURES = (
    Feature("publish, assign and roll back apps", (WRITE,)),
    Feature("read apps and export jobs", ("DeviceManagementApps.Read.All", WRITE)),
    GATE,
    GROUPS,
    Feature("assignment filters by name",
            ("DeviceManagementConfiguration.Read.All",
             "DeviceManagementConfiguration.ReadWrite.All")),
)


def require(features: tuple[Feature, ...], held: tuple[str, ...], client_id: str) -> None:
    """Stop before any call when a readable token lacks what a feature needs, naming it."""
    for feature in features:
        if not feature.granted(held):
            raise MissingPermissionError(
                f"the app registration {client_id} lacks the permission for the {feature.name}: "
                f"it needs {' or '.join(feature.roles)} (its token carries "
                f"{', '.join(held) or 'no application permissions'})",
                fix="grant it under App registrations > API permissions > Microsoft Graph > "
                    "Application permissions, then 'Grant admin consent'; re-run "
                    "`intune-step check`")


def feature_lines(roles: tuple[str, ...]) -> list[tuple[bool, str]]:
    """(granted, line) for every feature, in the order above."""
    return [(feature.granted(roles), feature.line(roles)) for feature in FEATURES]
