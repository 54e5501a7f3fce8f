"""How a Win32 app's versions live together: in place, or one app per version that supersedes.

``versioning`` is an input (and a named-settings key); the rest are keys of the ``win32`` YAML
input, since they only mean something for Win32 apps:

```yaml
supersedence: update          # or replace: uninstall the old version first
auto-update-superseded: true  # devices with the old version "available" get the new one
keep-versions: 3              # retire older versions this tool published (new-app only)
dependencies:                 # Win32 apps this one needs, by app ID or display name
  - app: Contoso Runtime
    type: auto-install        # or detect: only check it is there
```

Everything is checked here, offline; names are resolved and cycles found before any write
(graph/relationships.py, publish/lifecycle.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from intune_step.errors import SettingsError

VERSIONING = ("in-place", "new-app")
SUPERSEDENCE = ("update", "replace")
DEPENDENCY_TYPES = {"autoinstall": "autoInstall", "detect": "detect"}
KEYS = ("supersedence", "auto-update-superseded", "keep-versions", "dependencies")
# The documented limits (docs/protocol.md, "Relationships"): a supersedence graph may hold at
# most 10 apps on one page and 11 on another; we keep to the smaller. A dependency graph holds
# at most 100 apps, the app itself included.
MAX_SUPERSEDENCE_NODES = 10
MAX_DEPENDENCY_NODES = 100
MAX_DEPENDENCIES = MAX_DEPENDENCY_NODES - 1


@dataclass(frozen=True)
class Dependency:
    """One app this app needs: an app ID or an exact display name, and how to ensure it."""

    app: str
    kind: str  # autoInstall | detect (Graph's mobileAppDependencyType)


@dataclass(frozen=True)
class Lifecycle:
    """The win32 input's lifecycle keys, validated."""

    supersedence: str = "update"
    auto_update_superseded: bool = False
    keep_versions: int | None = None  # None: keep every version
    dependencies: tuple[Dependency, ...] = ()


def parse_versioning(text: str | None) -> str:
    value = (text or "").strip().lower() or "in-place"
    if value not in VERSIONING:
        raise SettingsError(f"versioning must be in-place or new-app, not {text!r}",
                            fix="set versioning: new-app for one Win32 app per version, or "
                                "leave it empty to update the app in place")
    return value


def parse_lifecycle(data: Mapping[str, Any]) -> Lifecycle:
    return Lifecycle(
        supersedence=_supersedence(data.get("supersedence")),
        auto_update_superseded=_flag(data.get("auto-update-superseded")),
        keep_versions=_keep(data.get("keep-versions")),
        dependencies=_dependencies(data.get("dependencies")),
    )


def _supersedence(value: Any) -> str:
    if value is None:
        return "update"
    if isinstance(value, str) and value.strip().lower() in SUPERSEDENCE:
        return value.strip().lower()
    raise SettingsError(f"win32 supersedence: {value!r} is not update or replace",
                        fix="use update (the new version installs over the old one) or replace "
                            "(Intune uninstalls the old version first)")


def _flag(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    raise SettingsError(f"win32 auto-update-superseded must be true or false, not {value!r}",
                        fix="write auto-update-superseded: true")


def _keep(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not (
            2 <= value <= MAX_SUPERSEDENCE_NODES):
        raise SettingsError(
            f"win32 keep-versions must be a whole number from 2 to {MAX_SUPERSEDENCE_NODES}, "
            f"not {value!r}",
            fix="keep at least the new version and the one to roll back to, and no more than "
                "a supersedence graph may hold, e.g. keep-versions: 3")
    return value


def _dependencies(value: Any) -> tuple[Dependency, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise SettingsError("win32 dependencies must be a list",
                            fix="write dependencies: [{app: <ID or name>, type: auto-install}]")
    found: list[Dependency] = []
    for index, item in enumerate(value, 1):
        where = f"win32 dependencies item {index}"
        if isinstance(item, str):
            item = {"app": item}
        if not isinstance(item, dict) or set(item) - {"app", "type"}:
            raise SettingsError(f"{where} must be {{app: <ID or name>, type: auto-install or "
                                "detect}", fix="write - app: Contoso Runtime")
        app = item.get("app")
        if not isinstance(app, str) or not app.strip():
            raise SettingsError(f"{where} needs app (an app ID or display name)",
                                fix="write - app: Contoso Runtime")
        kind = str(item.get("type", "auto-install")).replace("-", "").replace("_", "").lower()
        if kind not in DEPENDENCY_TYPES:
            raise SettingsError(f"{where} type: {item.get('type')!r} is not auto-install or "
                                "detect", fix="auto-install installs it first; detect only "
                                "requires it to be there")
        dependency = Dependency(app.strip(), DEPENDENCY_TYPES[kind])
        if any(d.app.casefold() == dependency.app.casefold() for d in found):
            raise SettingsError(f"{where}: {dependency.app} is listed twice",
                                fix="list each dependency once")
        found.append(dependency)
    if len(found) > MAX_DEPENDENCIES:
        raise SettingsError(f"win32 dependencies lists {len(found)} apps; Intune allows "
                            f"{MAX_DEPENDENCIES} (100 apps with the app itself)",
                            fix="depend on fewer apps")
    return tuple(found)
