"""Checks that run after reading the tenant and before any write; each failure says the fix.

- The version moves forward (versions.py), unless allow-downgrade: an older build, or the same
  build with different bytes, would leave devices on what they have or roll them back.
- The iOS provisioning profile has not expired (the reader checked at read time; an upload
  can start long after, so it is checked again).
- The file fits the publishing limits Intune documents: 30 GB for a Win32 app (MS Learn
  "apps-win32-add"). No other type has a documented cap, and the per-tenant
  ``mobileAppPublishingConstraints`` has no documented endpoint to read it from, so nothing
  else is enforced here: the service's own refusal then surfaces as a Graph error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from intune_step.artifacts.base import AppMetadata
from intune_step.errors import BadInputError
from intune_step.graph.versions import compare

WIN32_MAX_BYTES = 30 * 1000**3  # "30 GB per app"; decimal, never more generous than Intune
WHERE = {
    "buildNumber": "CFBundleVersion",
    "versionNumber": "CFBundleShortVersionString",
    "versionCode": "versionCode",
    "productVersion": "ProductVersion",
    "identityVersion": "the Identity Version in AppxManifest.xml",
    "primaryBundleVersion": "CFBundleShortVersionString",
    "displayVersion": "the app version",
}


def check_version(meta: AppMetadata, app: dict[str, Any], allow_downgrade: bool) -> list[str]:
    """Refuse a build that does not move forward; returns warnings for the log."""
    result = compare(meta.app_type, app, dict(meta.properties))
    if result is None:
        return []
    where = WHERE.get(result.field, result.field)
    if result.order is None:
        return [f"cannot order {result.field} {result.new!r} against {result.current!r} on the "
                "app (not dotted numbers); publishing without the version check"]
    if result.order > 0:
        return []
    if allow_downgrade:
        word = "older than" if result.order < 0 else "the same as"
        return [f"{result.field} {result.new} is {word} {result.current} in Intune; publishing "
                "anyway (allow-downgrade)"]
    if result.order < 0:
        raise BadInputError(
            f"{meta.file_name}: {result.field} {result.new} is older than {result.current}, the "
            f"version of app {app.get('id')} in Intune",
            fix=f"raise {where} above {result.current}, or set allow-downgrade: true to roll "
            "the app back on purpose",
        )
    raise BadInputError(
        f"{meta.file_name}: {result.field} {result.new} is already the version of app "
        f"{app.get('id')} in Intune, but this file differs from the one published",
        fix=f"raise {where} for the new build (devices would not update otherwise), or set "
        "allow-downgrade: true to replace the content at the same version",
    )


def check_file(meta: AppMetadata, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    expires = meta.properties.get("expirationDateTime") if meta.app_type == "iosLobApp" else None
    if isinstance(expires, str) and expires:
        moment = datetime.fromisoformat(expires.replace("Z", "+00:00"))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if moment <= now:
            raise BadInputError(
                f"{meta.file_name}: its provisioning profile expired on {expires}",
                fix="re-sign the app with a current provisioning profile and rebuild",
            )
    if meta.app_type == "win32LobApp" and meta.content.size_encrypted > WIN32_MAX_BYTES:
        raise BadInputError(
            f"{meta.file_name}: {meta.content.size_encrypted / 1000**3:.1f} GB is over the "
            "30 GB Intune allows for a Win32 app",
            fix="make the package smaller, e.g. split it into apps with dependencies",
        )
