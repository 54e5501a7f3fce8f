"""The ``win32`` input: what no .intunewin holds, in a readable YAML form, checked once.

Install and uninstall command lines, the install context, return codes, and detection and
requirement rules live in no file. The user writes them as a YAML mapping (inline or
``@file``); :func:`parse_win32` checks it before anything runs and turns the rules into
Graph's ``rules`` objects. Joining it with the package is ``graph/win32.py``'s work.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intune_step.config import lifecycle
from intune_step.config.lifecycle import Lifecycle, parse_lifecycle
from intune_step.config.paths import in_workspace
from intune_step.config.text import BRACED_GUID
from intune_step.config.yamlinput import load_mapping
from intune_step.errors import SettingsError

GRAPH = "#microsoft.graph."
KEYS = (
    "install-command",
    "uninstall-command",
    "install-context",
    "restart-behavior",
    "max-run-minutes",
    "return-codes",
    "detection-rules",
    "requirement-rules",
    "architectures",
    "minimum-windows-release",
    "display-version",
    "allow-available-uninstall",
    *lifecycle.KEYS,
)
RULE_KINDS = ("file", "registry", "msi", "script")
RULE_KEYS: dict[str, tuple[str, ...]] = {
    "file": ("path", "name", "check", "operator", "value", "check-32-bit"),
    "registry": ("key", "value-name", "check", "operator", "value", "check-32-bit"),
    "msi": ("product-code", "version", "operator"),
    "script": ("file", "content", "run-as-32-bit", "enforce-signature-check", "output",
               "operator", "value", "run-as", "display-name"),
}
MAX_SCRIPT_BYTES = 256 * 1024
MAX_RULES = 50

# Graph enum values, keyed by their spelling with case, '-', '_' and spaces removed.
FILE_CHECKS = ("exists", "doesNotExist", "modifiedDate", "createdDate", "version", "sizeInMB",
               "sizeInBytes", "appVersion")
REGISTRY_CHECKS = ("exists", "doesNotExist", "string", "integer", "float", "version")
SCRIPT_OUTPUTS = ("string", "dateTime", "integer", "float", "version", "boolean")
OPERATORS = {
    "equal": "equal", "=": "equal", "==": "equal", "eq": "equal",
    "notequal": "notEqual", "!=": "notEqual", "<>": "notEqual", "ne": "notEqual",
    "greaterthan": "greaterThan", ">": "greaterThan", "gt": "greaterThan",
    "greaterthanorequal": "greaterThanOrEqual", ">=": "greaterThanOrEqual",
    "ge": "greaterThanOrEqual",
    "lessthan": "lessThan", "<": "lessThan", "lt": "lessThan",
    "lessthanorequal": "lessThanOrEqual", "<=": "lessThanOrEqual", "le": "lessThanOrEqual",
}
RETURN_TYPES = ("success", "softReboot", "hardReboot", "retry", "failed")
RESTART = ("basedOnReturnCode", "allow", "suppress", "force")
CONTEXTS = ("system", "user")
ARCHITECTURES = ("x86", "x64", "arm", "neutral", "arm64")  # Graph's flag order
_RELEASE = re.compile(r"^[A-Za-z0-9_]{2,40}$")
README = "see docs/apps.md, 'Win32 apps'"


@dataclass(frozen=True)
class Win32Config:
    """The win32 input, validated; rules are already Graph ``win32LobApp*Rule`` objects."""

    install_command: str | None = None
    uninstall_command: str | None = None
    install_context: str | None = None  # system | user
    restart_behavior: str | None = None  # Graph deviceRestartBehavior
    max_run_minutes: int | None = None
    return_codes: tuple[dict[str, Any], ...] | None = None
    detection_rules: tuple[dict[str, Any], ...] | None = None
    requirement_rules: tuple[dict[str, Any], ...] | None = None
    architectures: str | None = None
    minimum_windows_release: str | None = None
    display_version: str | None = None
    allow_available_uninstall: bool | None = None
    # How versions live together (config/lifecycle.py): supersedence, retention, dependencies.
    lifecycle: Lifecycle = field(default_factory=Lifecycle)


# --- parsing the input ---------------------------------------------------------------------


def parse_win32(text: str | None, workspace: Path | None = None) -> Win32Config | None:
    """The ``win32`` input (inline YAML or ``@file``); SettingsError names what to fix."""
    data = load_mapping("win32", text, workspace)
    if data is None:
        return None
    return _Parser(workspace).config(data)


def _norm(text: str) -> str:
    return re.sub(r"[-_\s]", "", text).lower()


class _Parser:
    def __init__(self, workspace: Path | None) -> None:
        self.workspace = workspace

    def config(self, data: Mapping[str, Any]) -> Win32Config:
        _known_keys(data, KEYS, "win32")
        detection = self._rules(data, "detection-rules", "detection")
        requirement = self._rules(data, "requirement-rules", "requirement")
        if detection is not None:
            scripts = [r for r in detection if r["@odata.type"].endswith("PowerShellScriptRule")]
            if scripts and len(detection) > 1:
                raise SettingsError(
                    "win32 detection-rules: a script rule cannot be combined with other "
                    "detection rules (Intune allows one script, alone)",
                    fix="keep either the single script rule or the other rules",
                )
        return Win32Config(
            install_command=_text(data, "install-command"),
            uninstall_command=_text(data, "uninstall-command"),
            install_context=_choice(data, "install-context", CONTEXTS),
            restart_behavior=_choice(data, "restart-behavior", RESTART),
            max_run_minutes=_minutes(data),
            return_codes=_return_codes(data),
            detection_rules=detection,
            requirement_rules=requirement,
            architectures=_architectures(data),
            minimum_windows_release=_release(data),
            display_version=_text(data, "display-version", numbers=True),
            allow_available_uninstall=_bool(data, "allow-available-uninstall"),
            lifecycle=parse_lifecycle(data),
        )

    def _rules(self, data: Mapping[str, Any], key: str,
               rule_type: str) -> tuple[dict[str, Any], ...] | None:
        if key not in data or data[key] is None:
            return None
        items = data[key]
        if not isinstance(items, list) or not items:
            raise SettingsError(
                f"win32 {key} must be a non-empty list of rules",
                fix=f"write e.g. {key}: [{{file: {{path: '%ProgramFiles%\\App', name: app.exe, "
                "check: exists}}]",
            )
        if len(items) > MAX_RULES:
            raise SettingsError(f"win32 {key} has {len(items)} rules, more than {MAX_RULES}",
                                fix="keep the rules that decide installation")
        return tuple(self._rule(item, f"{key}[{i + 1}]", rule_type)
                     for i, item in enumerate(items))

    def _rule(self, item: Any, where: str, rule_type: str) -> dict[str, Any]:
        if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in RULE_KINDS:
            raise SettingsError(
                f"win32 {where} must be one of {', '.join(RULE_KINDS)} with its settings below",
                fix=f"write e.g. - file: {{path: '%ProgramFiles%\\App', name: app.exe, check: "
                f"exists}} ({README})",
            )
        kind, spec = next(iter(item.items()))
        if kind == "msi" and rule_type == "requirement":
            raise SettingsError(f"win32 {where}: an msi rule can only be a detection rule",
                                fix="use a file, registry or script requirement rule")
        if not isinstance(spec, dict):
            raise SettingsError(f"win32 {where}: {kind} needs a mapping of its settings",
                                fix=f"valid {kind} keys: {', '.join(RULE_KEYS[kind])}")
        _known_keys(spec, RULE_KEYS[kind], f"{where} {kind}")
        build: dict[str, Callable[[dict[str, Any], str, str], dict[str, Any]]] = {
            "file": self._file_rule, "registry": self._registry_rule,
            "msi": self._msi_rule, "script": self._script_rule,
        }
        return {"ruleType": rule_type, **build[kind](spec, f"win32 {where} {kind}", rule_type)}

    def _file_rule(self, spec: dict[str, Any], where: str, rule_type: str) -> dict[str, Any]:
        check, operator, value = _comparison(spec, where, FILE_CHECKS)
        return {
            "@odata.type": GRAPH + "win32LobAppFileSystemRule",
            "path": _required(spec, "path", where),
            "fileOrFolderName": _required(spec, "name", where),
            "check32BitOn64System": _bool(spec, "check-32-bit", where) or False,
            "operationType": check,
            "operator": operator,
            "comparisonValue": value,
        }

    def _registry_rule(self, spec: dict[str, Any], where: str, rule_type: str) -> dict[str, Any]:
        check, operator, value = _comparison(spec, where, REGISTRY_CHECKS)
        return {
            "@odata.type": GRAPH + "win32LobAppRegistryRule",
            "keyPath": _required(spec, "key", where),
            "valueName": _text(spec, "value-name", where=where),
            "check32BitOn64System": _bool(spec, "check-32-bit", where) or False,
            "operationType": check,
            "operator": operator,
            "comparisonValue": value,
        }

    def _msi_rule(self, spec: dict[str, Any], where: str, rule_type: str) -> dict[str, Any]:
        code = _required(spec, "product-code", where)
        if not BRACED_GUID.match(code):
            raise SettingsError(f"{where}: product-code {code!r} is not a GUID in braces",
                                fix="write it as '{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}' "
                                "(quoted: YAML reads a bare { as a mapping)")
        version = _text(spec, "version", where=where, numbers=True)
        operator = _operator(spec, where)
        if operator is not None and version is None:
            raise SettingsError(f"{where}: operator needs a version to compare with",
                                fix="add version: '1.2.3', or drop operator")
        return {
            "@odata.type": GRAPH + "win32LobAppProductCodeRule",
            "productCode": code,
            "productVersionOperator": (operator or "greaterThanOrEqual") if version
            else "notConfigured",
            "productVersion": version,
        }

    def _script_rule(self, spec: dict[str, Any], where: str, rule_type: str) -> dict[str, Any]:
        rule: dict[str, Any] = {
            "@odata.type": GRAPH + "win32LobAppPowerShellScriptRule",
            "scriptContent": base64.b64encode(self._script(spec, where)).decode("ascii"),
            "enforceSignatureCheck": _bool(spec, "enforce-signature-check", where) or False,
            "runAs32Bit": _bool(spec, "run-as-32-bit", where) or False,
        }
        if rule_type == "detection":
            extra = [k for k in ("output", "operator", "value", "run-as", "display-name")
                     if k in spec]
            if extra:
                raise SettingsError(
                    f"{where}: {', '.join(extra)} apply to requirement scripts only; a detection "
                    "script reports 'installed' by writing to stdout and exiting 0",
                    fix=f"drop {', '.join(extra)}",
                )
            rule.update(operationType="notConfigured", operator="notConfigured",
                        comparisonValue=None)
            return rule
        output = _choice(spec, "output", SCRIPT_OUTPUTS, where)
        operator = _operator(spec, where)
        value = _value(spec, where)
        if output is None or operator is None or value is None:
            raise SettingsError(
                f"{where}: a requirement script needs output, operator and value",
                fix="add e.g. output: string, operator: '=', value: 'yes'",
            )
        name = _text(spec, "display-name", where=where) or Path(str(spec.get("file") or
                                                                   "requirement.ps1")).name
        rule.update(operationType=output, operator=operator, comparisonValue=value,
                    runAsAccount=_choice(spec, "run-as", CONTEXTS, where) or "system",
                    displayName=name)
        return rule

    def _script(self, spec: dict[str, Any], where: str) -> bytes:
        if ("file" in spec) == ("content" in spec):
            raise SettingsError(f"{where} needs exactly one of file or content",
                                fix="file: scripts/detect.ps1 (relative to the workspace), or "
                                "content: | followed by the script")
        if "content" in spec:
            content = _required(spec, "content", where)
            data = content.encode("utf-8")
        else:
            relative = _required(spec, "file", where)
            path = in_workspace(Path(relative), self.workspace)
            if not path.is_file():
                raise SettingsError(f"{where}: script file {relative} does not exist",
                                    fix="give its path relative to the workspace")
            if path.stat().st_size > MAX_SCRIPT_BYTES:
                raise SettingsError(f"{where}: script {relative} is larger than "
                                    f"{MAX_SCRIPT_BYTES} bytes", fix="use a smaller script")
            data = path.read_bytes()
        if not data.strip() or len(data) > MAX_SCRIPT_BYTES:
            raise SettingsError(f"{where}: the script is empty or too large",
                                fix="give a PowerShell script")
        return data


# --- scalar helpers ------------------------------------------------------------------------


def _known_keys(data: Mapping[str, Any], valid: tuple[str, ...], where: str) -> None:
    unknown = [key for key in data if key not in valid]
    if unknown:
        raise SettingsError(
            f"{where} has unknown key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(str, unknown))}",
            fix=f"valid keys: {', '.join(valid)}",
        )


def _text(data: Mapping[str, Any], key: str, where: str = "win32", *,
          numbers: bool = False) -> str | None:
    """A string value; with ``numbers``, whole numbers too (YAML reads 1903 as an int). A
    float is refused: YAML turns 1.10 into 1.1, so versions must be quoted."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, (bool, float)) or (isinstance(value, int) and not numbers):
        raise SettingsError(f"{where} {key}: {value!r} is not text",
                            fix=f"quote it: {key}: '{value}'")
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise SettingsError(f"{where} {key} must be a single value, not a "
                            f"{type(value).__name__}", fix=f"write {key}: <text>")
    return value.strip() or None


def _required(data: Mapping[str, Any], key: str, where: str) -> str:
    value = _text(data, key, where)
    if value is None:
        raise SettingsError(f"{where} needs {key}", fix=f"add {key}: <value>")
    return value


def _bool(data: Mapping[str, Any], key: str, where: str = "win32") -> bool | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise SettingsError(f"{where} {key} must be true or false, not {value!r}",
                        fix=f"write {key}: true")


def _choice(data: Mapping[str, Any], key: str, choices: tuple[str, ...],
            where: str = "win32") -> str | None:
    value = data.get(key)
    if value is None:
        return None
    wanted = _norm(str(value))
    for choice in choices:
        if _norm(choice) == wanted:
            return choice
    spelled = ", ".join(re.sub(r"(?<!^)([A-Z])", r"-\1", c).lower() for c in choices)
    raise SettingsError(f"{where} {key}: {value!r} is not one of {spelled}",
                        fix=f"use one of {spelled}")


def _operator(spec: Mapping[str, Any], where: str) -> str | None:
    value = spec.get("operator")
    if value is None:
        return None
    operator = OPERATORS.get(_norm(str(value)))
    if operator is None:
        raise SettingsError(f"{where} operator {value!r} is not known",
                            fix="use =, !=, >, >=, <, <= (or equal, not-equal, greater-than, ...)")
    return operator


def _value(spec: Mapping[str, Any], where: str) -> str | None:
    value = spec.get("value")
    if value is None:
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    return _text(spec, "value", where, numbers=True)


def _comparison(spec: Mapping[str, Any], where: str,
                checks: tuple[str, ...]) -> tuple[str, str, str | None]:
    """(operationType, operator, comparisonValue): existence checks compare nothing."""
    check = _choice(spec, "check", checks, where) or "exists"
    operator = _operator(spec, where)
    value = _value(spec, where)
    if check in ("exists", "doesNotExist"):
        if operator is not None or value is not None:
            raise SettingsError(f"{where}: check {check} takes no operator or value",
                                fix="drop them, or use a comparing check such as version")
        return check, "notConfigured", None
    if operator is None or value is None:
        raise SettingsError(f"{where}: check {check} needs an operator and a value",
                            fix=f"add e.g. operator: '>=', value: '1.0' ({README})")
    return check, operator, value


def _minutes(data: Mapping[str, Any]) -> int | None:
    value = data.get("max-run-minutes")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1440:
        raise SettingsError(f"win32 max-run-minutes must be a whole number from 1 to 1440, "
                            f"not {value!r}", fix="write e.g. max-run-minutes: 60")
    return value


def _return_codes(data: Mapping[str, Any]) -> tuple[dict[str, Any], ...] | None:
    items = data.get("return-codes")
    if items is None:
        return None
    fix = "write e.g. return-codes: [{code: 0, type: success}, {code: 3010, type: soft-reboot}]"
    if not isinstance(items, list) or not items:
        raise SettingsError("win32 return-codes must be a non-empty list", fix=fix)
    codes: list[dict[str, Any]] = []
    for i, item in enumerate(items, start=1):
        where = f"win32 return-codes[{i}]"
        if not isinstance(item, dict):
            raise SettingsError(f"{where} must be a mapping with code and type", fix=fix)
        _known_keys(item, ("code", "type"), where)
        code = item.get("code")
        if isinstance(code, str) and re.fullmatch(r"-?\d+", code.strip()):
            code = int(code)
        if isinstance(code, bool) or not isinstance(code, int) or not -2**31 <= code < 2**31:
            raise SettingsError(f"{where} code must be a whole number, not {code!r}", fix=fix)
        kind = _choice(item, "type", RETURN_TYPES, where)
        if kind is None:
            raise SettingsError(f"{where} needs a type", fix=fix)
        codes.append({"returnCode": code, "type": kind})
    seen = [c["returnCode"] for c in codes]
    if len(seen) != len(set(seen)):
        raise SettingsError("win32 return-codes lists a code twice", fix="keep one entry per code")
    return tuple(codes)


def _architectures(data: Mapping[str, Any]) -> str | None:
    value = data.get("architectures")
    if value is None:
        return None
    names = value if isinstance(value, list) else str(value).split(",")
    wanted = {str(name).strip().lower() for name in names if str(name).strip()}
    unknown = wanted - set(ARCHITECTURES)
    if unknown or not wanted:
        raise SettingsError(f"win32 architectures: {', '.join(sorted(unknown)) or 'none'} "
                            "is not an architecture",
                            fix=f"use some of {', '.join(ARCHITECTURES)}, e.g. x64,arm64")
    return ",".join(a for a in ARCHITECTURES if a in wanted)


def _release(data: Mapping[str, Any]) -> str | None:
    value = _text(data, "minimum-windows-release", numbers=True)
    if value is None:
        return None
    if re.match(r"^[vV]\d+_", value):
        bare = value.split("_", 1)[1]
        raise SettingsError(
            f"win32 minimum-windows-release {value!r} is a legacy flag name; Intune wants the "
            "bare release",
            fix=f"write minimum-windows-release: '{bare}'",
        )
    if not _RELEASE.match(value):
        raise SettingsError(f"win32 minimum-windows-release {value!r} is not a release name",
                            fix="write e.g. '2H20', '1903' or 'Windows11_23H2'")
    return value
