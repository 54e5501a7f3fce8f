"""The win32LobApp fields no file holds, joined from the win32 input and the package.

:func:`plan` takes the parsed ``win32`` input (``config/win32.py``) and the package's
Detection.xml, deriving defaults when the setup file is an MSI (docs/protocol.md, "Win32
apps"): ``msiexec /i``, ``msiexec /x {ProductCode}``, a product-code detection rule and the
five usual return codes. For an EXE setup nothing can be derived, so a new app without the
three essentials is refused, with the YAML to add.
"""

from __future__ import annotations

from typing import Any

from intune_step.artifacts.base import AppMetadata
from intune_step.config.win32 import GRAPH, README, Win32Config
from intune_step.errors import BadInputError

DEFAULT_RETURN_CODES = (
    {"returnCode": 0, "type": "success"},
    {"returnCode": 1707, "type": "success"},
    {"returnCode": 3010, "type": "softReboot"},
    {"returnCode": 1641, "type": "hardReboot"},
    {"returnCode": 1618, "type": "retry"},
)
DEFAULT_ARCHITECTURES = "x64,x86"
# The oldest release Intune offers: no device is excluded unless the user says so.
DEFAULT_WINDOWS_RELEASE = "1607"
DEFAULT_RUN_MINUTES = 60


def msi_facts(meta: AppMetadata) -> dict[str, Any] | None:
    """The package's msiInformation when its setup file is an MSI, else None."""
    info = meta.properties.get("msiInformation")
    return info if isinstance(info, dict) and info.get("productCode") else None


def product_code_rule(code: str, version: str | None) -> dict[str, Any]:
    return {
        "@odata.type": GRAPH + "win32LobAppProductCodeRule",
        "ruleType": "detection",
        "productCode": code,
        "productVersionOperator": "greaterThanOrEqual" if version else "notConfigured",
        "productVersion": version,
    }


def plan(meta: AppMetadata, config: Win32Config | None, *, creating: bool = True,
         graph_version: str = "beta") -> dict[str, Any]:
    """The win32LobApp fields no file holds, from the input and the package's MSI facts.

    ``creating``: a new app needs command lines and a detection rule, and gets the default
    install experience, return codes, architectures and minimum release. An update sends what
    the input gives plus what follows from the new package (an MSI's product code), so
    settings made in the admin center survive. ``maxRunTimeInMinutes`` exists in beta only.
    """
    config = config or Win32Config()
    if graph_version != "beta":
        _refuse_beta_only(config, graph_version)
    setup = str(meta.properties.get("setupFilePath") or "")
    msi = msi_facts(meta)
    install, uninstall = config.install_command, config.uninstall_command
    detection: tuple[dict[str, Any], ...] | None = None
    if msi:
        code = str(msi["productCode"])
        install = install or f'msiexec /i "{setup}" /qn'
        uninstall = uninstall or f'msiexec /x "{code}" /qn'
        detection = (product_code_rule(code, msi.get("productVersion")),)
    detection = config.detection_rules or detection
    missing = [name for name, value in (("install-command", install),
                                        ("uninstall-command", uninstall),
                                        ("detection-rules", detection)) if not value]
    if creating and missing:
        raise missing_error(setup, missing)
    if detection is None and config.requirement_rules:
        raise BadInputError(
            "win32 requirement-rules would replace the app's rules without a detection rule",
            fix="give detection-rules in the same win32 input",
        )
    fields: dict[str, Any] = {}
    if install:
        fields["installCommandLine"] = install
    if uninstall:
        fields["uninstallCommandLine"] = uninstall
    if detection:
        fields["rules"] = [*detection, *(config.requirement_rules or ())]
    experience_given = (config.install_context, config.restart_behavior, config.max_run_minutes)
    if creating or any(v is not None for v in experience_given):
        context = config.install_context or (
            "user" if msi and str(msi.get("packageType", "")).lower() == "peruser" else "system")
        fields["installExperience"] = {
            "runAsAccount": context,
            "deviceRestartBehavior": config.restart_behavior or "basedOnReturnCode",
        }
        if graph_version == "beta":
            fields["installExperience"]["maxRunTimeInMinutes"] = (config.max_run_minutes
                                                                  or DEFAULT_RUN_MINUTES)
    if creating or config.return_codes:
        fields["returnCodes"] = [dict(c) for c in (config.return_codes or DEFAULT_RETURN_CODES)]
    if creating or config.architectures:
        fields["applicableArchitectures"] = config.architectures or DEFAULT_ARCHITECTURES
    if creating or config.minimum_windows_release:
        fields["minimumSupportedWindowsRelease"] = (config.minimum_windows_release
                                                    or DEFAULT_WINDOWS_RELEASE)
    version = config.display_version or (msi or {}).get("productVersion")
    if version and graph_version == "beta":  # v1.0's win32LobApp has no displayVersion
        fields["displayVersion"] = version
    if config.allow_available_uninstall is not None:
        fields["allowAvailableUninstall"] = config.allow_available_uninstall
    return fields


def _refuse_beta_only(config: Win32Config, graph_version: str) -> None:
    """Inputs that only Graph beta's win32LobApp can carry (msgraph-sdk's v1.0 models lack
    them; docs/protocol.md, "Request bodies")."""
    given = [name for name, value in (("max-run-minutes", config.max_run_minutes),
                                      ("display-version", config.display_version),
                                      ("allow-available-uninstall",
                                       config.allow_available_uninstall)) if value is not None]
    if "arm64" in (config.architectures or "").split(","):
        given.append("architectures: arm64")
    if given:
        raise BadInputError(
            f"win32 {', '.join(given)} exists only in Graph beta, but graph-version is "
            f"{graph_version}",
            fix=f"set graph-version: beta, or remove {', '.join(given)}",
        )


def missing_error(setup: str, missing: list[str]) -> BadInputError:
    """The refusal for an EXE package, with one-line YAML (flow style) the user can paste."""
    quoted = (setup or "setup.exe").replace("'", "''")
    examples = {
        "install-command": f"install-command: '{quoted} /S'",
        "uninstall-command": f"uninstall-command: '{quoted} /uninstall /S'",
        "detection-rules": "detection-rules: [{file: {path: '%ProgramFiles%\\Contoso\\App', "
        "name: app.exe, check: exists}}]",
    }
    snippet = "{" + ", ".join(examples[name] for name in missing) + "}"
    return BadInputError(
        f"{setup or 'the setup file'} is not an MSI, so Intune needs "
        f"{', '.join(missing)}, which no file holds",
        fix=f"add them to the win32 input, a YAML mapping given inline or as @file, e.g. "
        f"{snippet} ({README})",
    )


def describe(meta: AppMetadata) -> dict[str, Any]:
    """What a new app would get with no win32 input: for `inspect`."""
    try:
        return plan(meta, None, creating=True)
    except BadInputError:
        fields = plan(meta, None, creating=False)
        setup = str(meta.properties.get("setupFilePath") or "")
        fields["requiredInput"] = ["install-command", "uninstall-command", "detection-rules"]
        fields["note"] = f"{setup} is not an MSI: give these in the win32 input"
        return fields
