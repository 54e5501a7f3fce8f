"""Named settings: a YAML file of reusable connection settings, selected by setting-name.

The file lives in the repository, so it never holds a secret: an entry names the environment
variable that holds one (``client-secret-env: INTUNE_PROD_SECRET``). Explicit inputs override
the entry field by field; a credential given explicitly replaces the entry's credential whole.
Default location: ``intune-step.yml`` at the workspace root, the same place on every CI.

An entry's auth-url and graph-url must name Microsoft's Entra and Graph hosts (clouds.py):
the file must not be able to send the pipeline's credential or its Graph token anywhere else.
Another host is taken only when the pipeline allows it (INTUNE_STEP_ALLOWED_HOSTS) or gives
that URL as an input itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from intune_step.config.clouds import GRAPH_HOSTS, LOGIN_HOSTS
from intune_step.config.credentials import ENV_NAME, KIND_OF_INPUT
from intune_step.config.paths import in_workspace, shown
from intune_step.config.target_group import TargetGroup, is_group, parse_group
from intune_step.config.text import clean
from intune_step.errors import SettingsError
from intune_step.report import Reporter

DEFAULT_FILE = "intune-step.yml"
# Entry keys that are inputs of the same name (none of them a secret).
PLAIN_KEYS = ("client-id", "auth-url", "graph-url", "expected-tenant", "credential",
              "certificate-file", "send-certificate-chain", "federated-token-env",
              "federated-token-file", "service-connection-id", "managed-identity-id",
              "versioning")
# Entry key -> the secret input it fills from that environment variable.
SECRET_REFERENCES = {"client-secret-env": "client-secret", "certificate-env": "certificate",
                     "certificate-password-env": "certificate-password"}
CREDENTIAL_KEYS = frozenset({"credential", "certificate-file", "send-certificate-chain",
                             "federated-token-env", "federated-token-file",
                             "service-connection-id", "managed-identity-id",
                             *SECRET_REFERENCES})


@dataclass(frozen=True)
class NamedSetting:
    name: str
    values: dict[str, str]  # input name -> value
    references: dict[str, str]  # secret input name -> environment variable holding it
    rings: dict[str, Any] | None = None  # this setting's (tenant's) own rings (rings.py)


@dataclass(frozen=True)
class SettingsFile:
    path: Path
    default: str | None
    entries: dict[str, NamedSetting]
    rings: dict[str, Any] | None = None  # top-level rings, checked by config/rings.py
    groups: dict[str, TargetGroup] = field(default_factory=dict)  # entries naming targets


def load_settings_file(path: Path) -> SettingsFile:
    """Parse and check the whole file; every problem names the entry and key."""
    import yaml  # only a run with a settings file pays for it

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {type(exc).__name__}",
                            fix="check the path in settings-file") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SettingsError(f"settings file {path.name} is not valid YAML{where}",
                            fix="fix the YAML (a linter such as yamllint shows where)") from None
    if data is None:
        data = {"settings": {}}
    if not isinstance(data, dict) or not isinstance(data.get("settings"), dict):
        raise SettingsError(f"settings file {path.name} needs a `settings:` mapping of names "
                            "to entries", fix="see the example in docs/settings-file.md")
    unknown = set(data) - {"settings", "default", "rings"}
    if unknown:
        raise SettingsError(f"settings file {path.name} has unknown keys: "
                            f"{', '.join(sorted(map(str, unknown)))}",
                            fix="keep only `default:`, `settings:` and `rings:` at the top "
                                "level")
    entries = {str(name): _entry(path, str(name), body)
               for name, body in data["settings"].items() if not is_group(body)}
    groups = {str(name): parse_group(f"settings file {path.name}, entry {str(name)!r}",
                                     str(name), body)
              for name, body in data["settings"].items() if is_group(body)}
    for group in groups.values():
        for ref in group.targets:
            if ref.setting not in entries:
                raise SettingsError(
                    f"settings file {path.name}, entry {group.name!r}: target {ref.setting!r} "
                    "is not a setting of the file",
                    fix=f"use one of: {', '.join(entries) or '(none yet)'}")
    default = data.get("default")
    if default is not None and str(default) not in entries and str(default) not in groups:
        raise SettingsError(f"settings file {path.name}: default {default!r} is not an entry",
                            fix=f"use one of: {', '.join(entries) or '(none yet)'}")
    return SettingsFile(path, str(default) if default is not None else None, entries,
                        _rings(data.get("rings"), f"settings file {path.name}"), groups)


def _rings(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SettingsError(f"{where}: rings must be a mapping of ring names to rings",
                            fix="see docs/rings.md")
    return value


def _entry(path: Path, name: str, body: Any) -> NamedSetting:
    where = f"settings file {path.name}, entry {name!r}"
    if not isinstance(body, dict):
        raise SettingsError(f"{where} is not a mapping of keys to values",
                            fix="write `key: value` lines under the entry's name")
    values: dict[str, str] = {}
    references: dict[str, str] = {}
    rings = None
    for key, value in body.items():
        key = str(key)
        if key == "rings":
            rings = _rings(value, where)
            continue
        if key in SECRET_REFERENCES.values():
            raise SettingsError(
                f"{where} holds {key} itself; the file is in the repository and must not hold "
                "secrets", fix=f"keep it in a CI secret and write `{key}-env: <VARIABLE NAME>`")
        if isinstance(value, dict | list):
            raise SettingsError(f"{where}: {key} must be a single value", fix="write key: value")
        if value is None:
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value).strip()
        if key in SECRET_REFERENCES:
            if not ENV_NAME.match(text):
                raise SettingsError(f"{where}: {key} must name an environment variable",
                                    fix=f"e.g. {key}: INTUNE_{name.upper().replace('-', '_')}_"
                                        f"{SECRET_REFERENCES[key].upper().replace('-', '_')}")
            references[SECRET_REFERENCES[key]] = text
        elif key in PLAIN_KEYS:
            values[key] = text
        else:
            raise SettingsError(f"{where}: unknown key {key}",
                                fix=f"use {', '.join(PLAIN_KEYS + tuple(SECRET_REFERENCES))}"
                                    ", rings")
    return NamedSetting(name, values, references, rings)


def apply_named_setting(raw: Mapping[str, str | None], workspace: Path,
                        environ: Mapping[str, str], reporter: Reporter,
                        allowed_hosts: tuple[str, ...] = ()) -> dict[str, str | None]:
    """``raw`` completed from the selected entry, secrets read from the variables it names.

    Without a settings file (or with no entry selected) ``raw`` is returned unchanged, and
    setting-name is then only a label for logs and the summary.
    """
    path = settings_path(raw, workspace)
    if path is None:
        return dict(raw)
    given_file = clean(raw, "settings-file")
    settings_file = load_settings_file(path)
    name = clean(raw, "setting-name") or settings_file.default
    label = shown(path, workspace)
    if name is None:
        names = ", ".join(settings_file.entries) or "(none yet)"
        if given_file:
            raise SettingsError(f"settings-file {label} is set but no entry is selected",
                                fix=f"set setting-name to one of: {names}")
        reporter.info(f"{label} is not used: no setting-name picks one of its entries ({names})")
        return dict(raw)
    entry = settings_file.entries.get(name)
    if name in settings_file.groups:
        raise SettingsError(f"setting-name {name!r} in {label} names several targets, and "
                            "only publish goes to several tenants at once",
                            fix="set setting-name to one of its targets: " + ", ".join(
                                ref.setting for ref in settings_file.groups[name].targets))
    if entry is None:
        raise SettingsError(f"setting-name {name!r} is not in {label}",
                            fix=f"use one of: {', '.join(settings_file.entries) or '(none yet)'}")
    _check_hosts(raw, entry, label, allowed_hosts)
    return _merge(raw, entry, environ, reporter, label)


def settings_path(raw: Mapping[str, str | None], workspace: Path) -> Path | None:
    """The settings file the inputs point at (default: intune-step.yml, if it exists)."""
    given_file = clean(raw, "settings-file")
    path = in_workspace(Path(given_file or DEFAULT_FILE), workspace)
    if not path.is_file():
        if given_file:
            raise SettingsError(f"settings-file {given_file} does not exist",
                                fix=f"check the path (relative to {workspace})")
        return None
    return path


def selected_group(raw: Mapping[str, str | None], workspace: Path) -> TargetGroup | None:
    """The entry naming several targets that the inputs select, if they select one."""
    path = settings_path(raw, workspace)
    if path is None:
        return None
    settings_file = load_settings_file(path)
    name = clean(raw, "setting-name") or settings_file.default
    return settings_file.groups.get(name) if name else None


def _check_hosts(raw: Mapping[str, str | None], entry: NamedSetting, shown: str,
                 allowed: tuple[str, ...]) -> None:
    """The entry's own auth-url and graph-url (not overridden by inputs) stay on Microsoft's
    hosts unless the pipeline allows another."""
    for key, known, kind in (("auth-url", LOGIN_HOSTS, "Entra login"),
                             ("graph-url", GRAPH_HOSTS, "Graph")):
        value = entry.values.get(key)
        if value is None or clean(raw, key):
            continue
        host = (urlsplit(value).hostname or "").lower()
        if host in known or host in allowed:
            continue
        raise SettingsError(
            f"setting {entry.name!r} in {shown} would send the credential to {host or value!r} "
            f"({key}), which is not a Microsoft {kind} host",
            fix=f"use a Microsoft {kind} host in {shown}, give {key} as an input of the "
                f"pipeline, or allow the host with INTUNE_STEP_ALLOWED_HOSTS={host or '<host>'}")


def _merge(raw: Mapping[str, str | None], entry: NamedSetting, environ: Mapping[str, str],
           reporter: Reporter, shown: str) -> dict[str, str | None]:
    merged = dict(raw)
    own_credential = (clean(raw, "credential") or "auto") != "auto" or any(
        clean(raw, key) for key in KIND_OF_INPUT)
    taken: list[str] = []
    for key, value in entry.values.items():
        if (own_credential and key in CREDENTIAL_KEYS) or clean(raw, key):
            continue
        merged[key] = value
        taken.append(key)
    if not own_credential:
        for secret, variable in entry.references.items():
            if clean(raw, secret):
                continue
            value = environ.get(variable, "").strip()
            if not value:
                raise SettingsError(
                    f"setting {entry.name!r} takes {secret} from ${variable}, which is not set",
                    fix=f"map the secret into the step's environment as {variable} (GitHub: "
                        f"`env: {{{variable}: ${{{{ secrets.{variable} }}}}}}` on the step)")
            reporter.mask(value)  # before anything could print it
            merged[secret] = value
            taken.append(f"{secret} from ${variable}")
    merged["setting-name"] = entry.name
    merged["settings-file"] = shown
    overridden = [key for key in entry.values if key not in CREDENTIAL_KEYS and clean(raw, key)]
    note = "; given as inputs instead: " + ", ".join(overridden) if overridden else ""
    if own_credential and (entry.references or CREDENTIAL_KEYS & set(entry.values)):
        note += "; the credential given as inputs replaces the entry's"
    reporter.info(f"Setting '{entry.name}' from {shown}: {', '.join(taken) or 'nothing'}{note}")
    return merged
