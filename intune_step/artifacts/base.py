"""The one metadata record every artifact reader returns.

Readers only read: they know nothing of HTTP. The publish flow turns this record into
Graph bodies (adding the minimum-OS flags for the Graph version in use) and uploads
``content``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from intune_step.crypto import FileEncryptionInfo, b64, encrypted_size
from intune_step.errors import ArtifactError

Platform = Literal["ios", "android", "macos", "windows"]

# How a refusal tells the user that their own values can stand in for the file's.
BUNDLE_OVERRIDE_FIX = (
    "set the bundle-id and bundle-version inputs (--bundle-id/--bundle-version on the CLI) to "
    "the app's CFBundleIdentifier and CFBundleShortVersionString"
)


class MetadataUnreadableError(ArtifactError):
    """The file is a sound container, but the app's identity cannot be read from it here.

    A disk image without a top-level .app or with a volume this reader does not parse, a
    package that records no bundle: the file itself can still be uploaded, so the user's
    bundle-id and bundle-version may stand in for what it would have said. ``hints`` carries
    whatever was read before the reader gave up ("minimum_os", "display_name", "publisher").
    """

    def __init__(self, message: str, *, fix: str | None = BUNDLE_OVERRIDE_FIX,
                 hints: Mapping[str, str] | None = None) -> None:
        super().__init__(message, fix=fix)
        self.hints: dict[str, str] = dict(hints or {})


@dataclass(frozen=True)
class MinimumOs:
    """The artifact's own minimum OS, before it is mapped onto Graph's boolean flags.

    ``version`` is dotted ("16.4", "10.15", "10.0.17763.0"); for Android it is the
    release ("8.0") derived from minSdkVersion.
    """

    platform: Platform
    version: str


@dataclass(frozen=True)
class PlainContent:
    """The artifact itself; the step encrypts it while uploading."""

    path: Path
    size: int

    @property
    def size_encrypted(self) -> int:
        return encrypted_size(self.size)


@dataclass(frozen=True)
class EncryptedContent:
    """Bytes already in ProfileVersion1 form (a .intunewin payload), uploaded as they are.

    The blob is ``size_encrypted`` bytes of ``path`` starting at ``offset``.
    """

    path: Path
    offset: int
    size_encrypted: int
    size: int
    encryption_info: FileEncryptionInfo


Content = PlainContent | EncryptedContent


@dataclass(frozen=True)
class AppMetadata:
    """What Intune needs to know about one artifact, all of it read from the file."""

    app_type: str  # Graph type name, e.g. "iosLobApp"
    file_name: str  # app fileName and content-file name
    identity: str  # stable across versions: bundle id, package id, product code...
    version: str  # the human version (CFBundleShortVersionString, versionName...)
    content: Content
    build: str | None = None  # the machine-comparable build (CFBundleVersion, versionCode)
    display_name: str | None = None  # default display name found in the file
    publisher: str | None = None
    minimum_os: MinimumOs | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)  # type-specific Graph fields
    manifest: bytes | None = None  # content-file manifest (sent base64)
    details: Mapping[str, Any] = field(default_factory=dict)  # extra facts for `inspect`

    @property
    def odata_type(self) -> str:
        return f"#microsoft.graph.{self.app_type}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view for `inspect --json` (no key material)."""
        content: dict[str, Any] = {
            "size": self.content.size,
            "sizeEncrypted": self.content.size_encrypted,
            "preEncrypted": isinstance(self.content, EncryptedContent),
        }
        return {
            "appType": self.app_type,
            "fileName": self.file_name,
            "identity": self.identity,
            "version": self.version,
            "build": self.build,
            "displayName": self.display_name,
            "publisher": self.publisher,
            "minimumOs": (
                {"platform": self.minimum_os.platform, "version": self.minimum_os.version}
                if self.minimum_os
                else None
            ),
            "properties": dict(self.properties),
            "manifest": b64(self.manifest) if self.manifest is not None else None,
            "content": content,
            "details": dict(self.details),
        }
