"""Pick the reader for an artifact by its name and return its metadata record."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from intune_step.artifacts.base import AppMetadata, MetadataUnreadableError
from intune_step.errors import ArtifactError

# suffix -> "module:function"; each reader takes a Path and returns AppMetadata.
READERS: dict[str, str] = {
    ".ipa": "intune_step.artifacts.ipa:read_ipa",
    ".apk": "intune_step.artifacts.apk:read_apk",
    ".msi": "intune_step.artifacts.msi:read_msi",
    ".msix": "intune_step.artifacts.msix:read_msix",
    ".appx": "intune_step.artifacts.msix:read_msix",
    ".msixbundle": "intune_step.artifacts.msix:read_msix",
    ".appxbundle": "intune_step.artifacts.msix:read_msix",
    ".intunewin": "intune_step.artifacts.intunewin:read_intunewin",
    ".pkg": "intune_step.artifacts.pkg:read_pkg",
    ".dmg": "intune_step.artifacts.dmg:read_dmg",
}

REFUSED: dict[str, str] = {
    ".aab": "an Android App Bundle (.aab) is a publishing format for Google Play; Intune takes "
    "only installable .apk files. Build an APK (e.g. `bundletool build-apks --mode=universal`) "
    "and publish that",
    ".xapk": "split APK containers are not installable by Intune; publish a universal .apk",
    ".apks": "split APK sets are not installable by Intune; publish a universal .apk",
    ".intunemac": "the .intunemac wrapper is retired; publish the .pkg itself",
}


def supported_suffixes() -> list[str]:
    return sorted(READERS)


def read_artifact(path: Path) -> AppMetadata:
    """Read the metadata of ``path``; raise ArtifactError with the fix when it cannot."""
    if not path.exists():
        raise ArtifactError(
            f"artifact not found: {path}", fix="check the `file` path (relative to the workspace)"
        )
    if not path.is_file():
        raise ArtifactError(
            f"artifact is not a file: {path}", fix="give the path of the built file, not a folder"
        )
    suffix = path.suffix.lower()
    if suffix in REFUSED:
        raise ArtifactError(f"{path.name}: {REFUSED[suffix]}")
    target = READERS.get(suffix)
    if target is None:
        raise ArtifactError(
            f"{path.name}: unsupported file type {suffix or '(no extension)'!r}",
            fix="publish one of " + ", ".join(supported_suffixes()),
        )
    module_name, func_name = target.split(":")
    reader: Callable[[Path], AppMetadata] = getattr(  # READERS' contract
        importlib.import_module(module_name), func_name)
    if suffix != ".dmg":
        return reader(path)
    return _with_dmg_signer(reader, path)


def _with_dmg_signer(reader: Callable[[Path], AppMetadata], path: Path) -> AppMetadata:
    """A disk image's publisher is its code signature's signer (dmgsign.py), read beside the
    volume, also for an image whose app the user's bundle-id must name."""
    from intune_step.artifacts.dmgsign import dmg_signer  # X.509 code: DMG reads only
    try:
        meta = reader(path)
    except MetadataUnreadableError as exc:
        signer = dmg_signer(path)
        if signer is not None:
            exc.hints.setdefault("publisher", signer.name)
        raise
    if meta.publisher is not None:
        return meta
    signer = dmg_signer(path)
    if signer is None:
        return meta
    return replace(meta, publisher=signer.name, details={**meta.details, "signer": signer.subject})
