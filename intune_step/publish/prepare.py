"""What the user sets over what the file says, applied once, before anything touches Intune.

:func:`prepare` reads the artifact and folds in the overrides that change its metadata:
bundle-id/bundle-version (which may stand in for a disk image or package whose app cannot be
read here), macos-app-type (a .pkg as macOSLobApp), and the win32 input (checked against the
package: an EXE needs command lines and a detection rule). Every refusal is a BadInputError,
raised before sign-in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from intune_step.artifacts import read_artifact
from intune_step.artifacts.base import (
    AppMetadata,
    MetadataUnreadableError,
    MinimumOs,
    PlainContent,
)
from intune_step.config.options import PublishOptions
from intune_step.errors import ArtifactError, SettingsError
from intune_step.graph.win32 import plan
from intune_step.publish import lifecycle

MACOS_TYPES = ("macOSPkgApp", "macOSDmgApp", "macOSLobApp")
INCLUDED_APP = "#microsoft.graph.macOSIncludedApp"
CHILD_APP = "#microsoft.graph.macOSLobChildApp"
BETA_ONLY_TYPES = ("macOSPkgApp",)


def prepare(options: PublishOptions, graph_version: str = "beta",
            warn: Callable[[str], None] | None = None) -> AppMetadata:
    """The artifact's metadata with the user's overrides applied and checked."""
    meta = _read(options, warn)
    _check_applicable(meta, options)
    if options.macos_app_type == "lob":
        meta = as_macos_lob(meta)
    if meta.app_type == "win32LobApp":
        plan(meta, options.win32, creating=options.app_id is None,  # refuses what cannot work
             graph_version=graph_version)
        meta = _with_display_version(meta, options)
    lifecycle.check_offline(meta, options, graph_version)
    if meta.app_type in BETA_ONLY_TYPES and graph_version != "beta":
        raise SettingsError(
            f"{meta.app_type} exists only in Graph beta, but graph-version is {graph_version}",
            fix="set graph-version: beta, or macos-app-type: lob for a managed macOSLobApp",
        )
    return meta


def _read(options: PublishOptions, warn: Callable[[str], None] | None) -> AppMetadata:
    try:
        meta = read_artifact(options.file)
    except MetadataUnreadableError as exc:
        if not (options.bundle_id or options.bundle_version):
            raise
        if not (options.bundle_id and options.bundle_version):
            missing = "bundle-version" if options.bundle_id else "bundle-id"
            raise ArtifactError(f"{exc.message}; {missing} must be given too",
                                fix=f"set {missing} as well") from exc
        if warn:
            warn(f"{exc.message}; publishing with bundle-id {options.bundle_id} and "
                 f"bundle-version {options.bundle_version} from the inputs")
        return _from_inputs(options, exc)
    return _with_bundle(meta, options)


def _with_display_version(meta: AppMetadata, options: PublishOptions) -> AppMetadata:
    """A Win32 app's version is the displayVersion it gets: the display-version input over
    the MSI's ProductVersion (graph/win32.py), so the version output and the logs say it."""
    given = options.win32.display_version if options.win32 is not None else None
    if not given or given == meta.version:
        return meta
    return replace(meta, version=given, build=None)


def _check_applicable(meta: AppMetadata, options: PublishOptions) -> None:
    """An input that cannot apply to this file is refused, not silently ignored."""
    name = options.file.name
    if options.win32 is not None and meta.app_type != "win32LobApp":
        raise SettingsError(f"the win32 input applies to .intunewin packages, not {name}",
                            fix="remove win32 for this file")
    if (options.bundle_id or options.bundle_version) and meta.app_type not in MACOS_TYPES:
        raise SettingsError(f"bundle-id and bundle-version apply to .pkg and .dmg files, not "
                            f"{name}", fix="remove them for this file")
    if options.macos_app_type == "lob" and meta.app_type != "macOSPkgApp":
        raise SettingsError(f"macos-app-type lob applies to .pkg files, not {name}",
                            fix="remove macos-app-type, or publish the .pkg")


def _included(bundle_id: str, version: str) -> dict[str, str]:
    return {"@odata.type": INCLUDED_APP, "bundleId": bundle_id, "bundleVersion": version}


def _from_inputs(options: PublishOptions, exc: MetadataUnreadableError) -> AppMetadata:
    """A .dmg/.pkg whose app could not be read, described by bundle-id and bundle-version."""
    path = options.file
    bundle_id, version = str(options.bundle_id), str(options.bundle_version)
    app_type = "macOSDmgApp" if path.suffix.lower() == ".dmg" else "macOSPkgApp"
    minimum = exc.hints.get("minimum_os")
    return AppMetadata(
        app_type=app_type,
        file_name=path.name,
        identity=bundle_id,
        version=version,
        display_name=exc.hints.get("display_name"),
        publisher=exc.hints.get("publisher"),
        minimum_os=MinimumOs("macos", minimum) if minimum else None,
        content=PlainContent(path=path, size=path.stat().st_size),
        properties={
            "primaryBundleId": bundle_id,
            "primaryBundleVersion": version,
            "includedApps": [_included(bundle_id, version)],
        },
        manifest=None,
        details={"source": "bundle-id and bundle-version inputs", "unreadable": exc.message},
    )


def _with_bundle(meta: AppMetadata, options: PublishOptions) -> AppMetadata:
    """bundle-id/bundle-version over a readable file: they name (and version) the primary app.

    A bundle id the file lists becomes the primary, the other apps stay; one it does not list
    is put first, since the file's apps are still installed.
    """
    if not (options.bundle_id or options.bundle_version) or meta.app_type not in MACOS_TYPES:
        return meta
    included = list(meta.properties.get("includedApps", []))
    bundle_id = options.bundle_id or str(meta.properties["primaryBundleId"])
    match = next((app for app in included if app.get("bundleId") == bundle_id), None)
    if match is None and not options.bundle_version:
        listed = ", ".join(str(app.get("bundleId")) for app in included)
        raise SettingsError(f"bundle-id {bundle_id} is not among the apps of "
                            f"{options.file.name} ({listed}), so its version is unknown",
                            fix="set bundle-version too, or name one of the listed apps")
    version = options.bundle_version or str(match["bundleVersion"] if match else "")
    others = [app for app in included if app.get("bundleId") != bundle_id]
    properties = {
        **meta.properties,
        "primaryBundleId": bundle_id,
        "primaryBundleVersion": version,
        "includedApps": [_included(bundle_id, version), *others],
    }
    same = bundle_id == meta.identity and version == meta.version
    return replace(meta, identity=bundle_id, version=version,
                   build=meta.build if same else None, properties=properties)


def as_macos_lob(meta: AppMetadata) -> AppMetadata:
    """A .pkg as macOSLobApp (docs/protocol.md, "macOS apps"). The beta docs name the fields
    the other way round from iOS: buildNumber is CFBundleShortVersionString, versionNumber is
    CFBundleVersion (falling back to the short version when the package records none)."""
    builds = {str(app.get("bundleId")): app.get("version")
              for app in meta.details.get("apps", []) if isinstance(app, dict)}
    included = meta.properties.get("includedApps", [])

    def child(app: Mapping[str, Any]) -> dict[str, Any]:
        short = str(app["bundleVersion"])
        return {"@odata.type": CHILD_APP, "bundleId": app["bundleId"], "buildNumber": short,
                "versionNumber": str(builds.get(str(app["bundleId"])) or short)}

    children = [child(app) for app in included]
    primary = children[0]
    properties = {
        "bundleId": primary["bundleId"],
        "buildNumber": primary["buildNumber"],
        "versionNumber": primary["versionNumber"],
        "childApps": children,
        "ignoreVersionDetection": False,
        "installAsManaged": False,
    }
    return replace(meta, app_type="macOSLobApp", properties=properties)
