"""The win32 input: its readable YAML, its refusals, and the win32LobApp fields it yields."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from intune_step.artifacts.intunewin import read_intunewin
from intune_step.config.win32 import parse_win32
from intune_step.emulator.apptypes import validate_new_app
from intune_step.errors import BadInputError, SettingsError
from intune_step.graph.win32 import DEFAULT_RETURN_CODES, describe, plan
from intune_step.samples.windows import build_intunewin

CODE = "{6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B}"
G = "#microsoft.graph."

FULL = r"""
install-command: setup.exe /S
uninstall-command: '"%ProgramFiles%\App\uninstall.exe" /S'
install-context: User
restart-behavior: based-on-return-code
max-run-minutes: 45
return-codes:
  - {code: 0, type: success}
  - {code: '-1', type: failed}
  - {code: 1641, type: hard-reboot}
detection-rules:
  - file: {path: '%ProgramFiles%\App', name: app.exe, check: exists, check-32-bit: true}
  - registry:
      key: HKLM\SOFTWARE\App
      value-name: Version
      check: version
      operator: greater-than-or-equal
      value: '2.0'
  - msi: {product-code: '{6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B}', version: '2.0', operator: '='}
requirement-rules:
  - script:
      content: "Write-Output 'yes'"
      output: string
      operator: '=='
      value: 'yes'
      run-as: user
  - file: {path: 'C:\Data', name: big.dat, check: size-in-mb, operator: '<', value: 500}
architectures: x64, ARM64
minimum-windows-release: 21H2
display-version: 2.0.1
allow-available-uninstall: true
"""


def msi_package(tmp_path: Path, context: str = "System"):
    build_intunewin(tmp_path / "a.intunewin", setup_file="app.msi", files={"app.msi": b"msi"},
                    name="App", msi_info={"MsiProductCode": CODE, "MsiProductVersion": "2.0",
                                          "MsiExecutionContext": context})
    return read_intunewin(tmp_path / "a.intunewin")


def exe_package(tmp_path: Path, setup: str = "setup.exe"):
    build_intunewin(tmp_path / "e.intunewin", setup_file=setup, files={setup: b"MZ"}, name="Tool")
    return read_intunewin(tmp_path / "e.intunewin")


def test_the_readable_form_becomes_graph_rules() -> None:
    config = parse_win32(FULL)
    assert config is not None
    assert config.install_context == "user" and config.restart_behavior == "basedOnReturnCode"
    assert config.max_run_minutes == 45 and config.architectures == "x64,arm64"
    assert config.return_codes == ({"returnCode": 0, "type": "success"},
                                   {"returnCode": -1, "type": "failed"},
                                   {"returnCode": 1641, "type": "hardReboot"})
    assert config.minimum_windows_release == "21H2" and config.display_version == "2.0.1"
    assert config.allow_available_uninstall is True
    assert config.detection_rules == (
        {"ruleType": "detection", "@odata.type": G + "win32LobAppFileSystemRule",
         "path": "%ProgramFiles%\\App", "fileOrFolderName": "app.exe",
         "check32BitOn64System": True, "operationType": "exists", "operator": "notConfigured",
         "comparisonValue": None},
        {"ruleType": "detection", "@odata.type": G + "win32LobAppRegistryRule",
         "keyPath": "HKLM\\SOFTWARE\\App", "valueName": "Version", "check32BitOn64System": False,
         "operationType": "version", "operator": "greaterThanOrEqual", "comparisonValue": "2.0"},
        {"ruleType": "detection", "@odata.type": G + "win32LobAppProductCodeRule",
         "productCode": CODE, "productVersionOperator": "equal", "productVersion": "2.0"},
    )
    script, size = config.requirement_rules or ()
    assert script == {
        "ruleType": "requirement", "@odata.type": G + "win32LobAppPowerShellScriptRule",
        "scriptContent": base64.b64encode(b"Write-Output 'yes'").decode(),
        "enforceSignatureCheck": False, "runAs32Bit": False, "operationType": "string",
        "operator": "equal", "comparisonValue": "yes", "runAsAccount": "user",
        "displayName": "requirement.ps1"}
    assert (size["operationType"], size["operator"], size["comparisonValue"]) == (
        "sizeInMB", "lessThan", "500")


def test_the_file_form_reads_scripts_from_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "detect.ps1").write_bytes(b"exit 0\r\n")
    (tmp_path / "ops" / "win32.yml").write_text(
        "install-command: a.exe\ndetection-rules:\n  - script: {file: ops/detect.ps1}\n")
    config = parse_win32("@ops/win32.yml", tmp_path)
    assert config is not None and config.install_command == "a.exe"
    (rule,) = config.detection_rules or ()
    assert base64.b64decode(rule["scriptContent"]) == b"exit 0\r\n"
    assert (rule["operationType"], rule["operator"]) == ("notConfigured", "notConfigured")
    with pytest.raises(SettingsError, match=r"the win32 file nope\.yml does not exist"):
        parse_win32("@nope.yml", tmp_path)
    (tmp_path / "ops" / "win32.yml").write_text("detection-rules:\n  - script: {file: x.ps1}\n")
    with pytest.raises(SettingsError, match=r"script file x\.ps1 does not exist"):
        parse_win32("@ops/win32.yml", tmp_path)


@pytest.mark.parametrize(
    ("text", "message", "fix"),
    [
        ("install-command: a\n  uninstall-command: b", "not valid YAML at line 2, column 20",
         "indentation"),
        ("installCommand: a", "unknown key installCommand", "valid keys: install-command, "),
        ("- a\n- b", "must be a YAML mapping", "key: value"),
        ("install-command: &x a\nuninstall-command: *x", "alias at line 2", "write the value"),
        ("detection-rules: []", "non-empty list", "detection-rules: [{file:"),
        ("detection-rules: [{folder: {path: a}}]", "must be one of file, registry, msi, script",
         "- file:"),
        ("detection-rules: [{file: {path: a, name: b, size: 3}}]", "unknown key size",
         "valid keys: path, name, check"),
        ("detection-rules: [{file: {path: a, name: b, check: version}}]",
         "needs an operator and a value", "operator: '>='"),
        ("detection-rules: [{file: {path: a, name: b, operator: '>', value: '1'}}]",
         "check exists takes no operator or value", "drop them"),
        ("detection-rules: [{registry: {key: k, check: string, operator: '~', value: x}}]",
         "operator '~' is not known", "=, !=, >"),
        ("detection-rules: [{msi: {product-code: 6F1C2A9E}}]", "is not a GUID in braces",
         "quoted"),
        ("detection-rules: [{script: {content: x}}, {file: {path: a, name: b}}]",
         "cannot be combined", "single script"),
        ("detection-rules: [{script: {content: x, output: string}}]",
         "apply to requirement scripts only", "drop output"),
        ("requirement-rules: [{msi: {product-code: x}}]", "only be a detection rule", "file,"),
        ("requirement-rules: [{script: {content: x}}]", "needs output, operator and value",
         "output: string"),
        ("return-codes: [{code: zero, type: success}]", "code must be a whole number",
         "{code: 0, type: success}"),
        ("return-codes: [{code: 0, type: ok}]", "'ok' is not one of success, soft-reboot",
         "use one of"),
        ("return-codes: [{code: 0, type: success}, {code: 0, type: failed}]", "a code twice",
         "one entry"),
        ("install-context: admin", "is not one of system, user", "system, user"),
        ("max-run-minutes: 0", "from 1 to 1440", "max-run-minutes: 60"),
        ("architectures: x64,itanium", "itanium is not an architecture", "x64,arm64"),
        ("minimum-windows-release: v10_1903", "legacy flag name", "'1903'"),
        ("display-version: 1.10", "1.1 is not text", "quote it"),
        ("allow-available-uninstall: maybe", "must be true or false", "true"),
    ],
)
def test_mistakes_are_refused_with_the_fix(text: str, message: str, fix: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_win32(text)
    assert message in caught.value.message, caught.value.message
    assert fix in (caught.value.fix or ""), caught.value.fix
    assert "\n" not in caught.value.one_line()


def test_numbers_yaml_reads_as_ints_are_kept_as_text() -> None:
    config = parse_win32("minimum-windows-release: 1903\ndisplay-version: 7")
    assert config is not None
    assert (config.minimum_windows_release, config.display_version) == ("1903", "7")
    assert parse_win32("  ") is None


def test_an_msi_inside_gives_every_default(tmp_path: Path) -> None:
    fields = plan(msi_package(tmp_path), None)
    assert fields["installCommandLine"] == 'msiexec /i "app.msi" /qn'
    assert fields["uninstallCommandLine"] == f'msiexec /x "{CODE}" /qn'
    assert fields["rules"] == [{"@odata.type": G + "win32LobAppProductCodeRule",
                                "ruleType": "detection", "productCode": CODE,
                                "productVersionOperator": "greaterThanOrEqual",
                                "productVersion": "2.0"}]
    assert fields["returnCodes"] == list(DEFAULT_RETURN_CODES)
    assert fields["installExperience"] == {"runAsAccount": "system", "maxRunTimeInMinutes": 60,
                                           "deviceRestartBehavior": "basedOnReturnCode"}
    assert fields["applicableArchitectures"] == "x64,x86"
    assert fields["minimumSupportedWindowsRelease"] == "1607"
    assert fields["displayVersion"] == "2.0"
    # a per-user MSI installs in the user's context
    user = plan(msi_package(tmp_path, "User"), None)
    assert user["installExperience"]["runAsAccount"] == "user"


def test_the_input_wins_over_the_msi_defaults(tmp_path: Path) -> None:
    config = parse_win32(FULL)
    fields = plan(msi_package(tmp_path), config)
    assert fields["installCommandLine"] == "setup.exe /S"
    assert [r["ruleType"] for r in fields["rules"]] == ["detection"] * 3 + ["requirement"] * 2
    assert fields["installExperience"] == {"runAsAccount": "user", "maxRunTimeInMinutes": 45,
                                           "deviceRestartBehavior": "basedOnReturnCode"}
    assert fields["displayVersion"] == "2.0.1" and fields["allowAvailableUninstall"] is True


def test_an_exe_needs_the_three_essentials_and_the_fix_is_pasteable(tmp_path: Path) -> None:
    meta = exe_package(tmp_path, "Contoso's setup.exe")
    with pytest.raises(BadInputError) as caught:
        plan(meta, None)
    error = caught.value
    assert "Contoso's setup.exe is not an MSI" in error.message
    assert "install-command, uninstall-command, detection-rules" in error.message
    assert "\n" not in error.one_line()
    # the example in the fix is YAML the user can paste: it parses and satisfies the plan
    snippet = (error.fix or "").split("e.g. ", 1)[1].rsplit(" (see ", 1)[0]
    fields = plan(meta, parse_win32(snippet))
    assert fields["installCommandLine"] == "Contoso's setup.exe /S"
    body = {"displayName": "Tool", "fileName": "x", "setupFilePath": "x", **fields}
    assert validate_new_app("win32LobApp", body) is None  # the emulator's create rules
    # only what is missing is asked for
    with pytest.raises(BadInputError, match="needs detection-rules, which") as partial:
        plan(meta, parse_win32("install-command: a\nuninstall-command: b"))
    assert "install-command" not in (partial.value.fix or "")


def test_an_update_keeps_what_the_admin_set(tmp_path: Path) -> None:
    assert plan(exe_package(tmp_path), None, creating=False) == {}
    fields = plan(exe_package(tmp_path), parse_win32("max-run-minutes: 15"), creating=False)
    assert fields == {"installExperience": {"runAsAccount": "system", "maxRunTimeInMinutes": 15,
                                            "deviceRestartBehavior": "basedOnReturnCode"}}
    # a new MSI brings a new product code: its commands and rule are sent again
    msi = plan(msi_package(tmp_path), None, creating=False)
    assert set(msi) == {"installCommandLine", "uninstallCommandLine", "rules", "displayVersion"}
    with pytest.raises(BadInputError, match="without a detection rule"):
        plan(exe_package(tmp_path), parse_win32(
            "requirement-rules: [{file: {path: a, name: b}}]"), creating=False)


def test_max_run_minutes_is_beta_only(tmp_path: Path) -> None:
    v1 = plan(msi_package(tmp_path), None, graph_version="v1.0")
    assert v1["installExperience"] == {"runAsAccount": "system",
                                       "deviceRestartBehavior": "basedOnReturnCode"}
    assert "displayVersion" not in v1  # the MSI's version: v1.0 has no such property
    with pytest.raises(BadInputError, match="max-run-minutes exists only in Graph beta") as err:
        plan(msi_package(tmp_path), parse_win32("max-run-minutes: 30"), graph_version="v1.0")
    assert "graph-version: beta" in (err.value.fix or "")


@pytest.mark.parametrize(
    "snippet",
    ["display-version: '2.0'", "allow-available-uninstall: true", "architectures: [x64, arm64]"],
)
def test_beta_only_win32_inputs_are_refused_on_v1(tmp_path: Path, snippet: str) -> None:
    """msgraph-sdk's v1.0 win32LobApp has no displayVersion or allowAvailableUninstall, and
    its windowsArchitecture no arm64: Graph would refuse the body, so the input is refused."""
    assert plan(msi_package(tmp_path), parse_win32(snippet), graph_version="beta")
    with pytest.raises(BadInputError, match="exists only in Graph beta"):
        plan(msi_package(tmp_path), parse_win32(snippet), graph_version="v1.0")


def test_describe_for_inspect(tmp_path: Path) -> None:
    assert describe(msi_package(tmp_path))["installCommandLine"] == 'msiexec /i "app.msi" /qn'
    exe = describe(exe_package(tmp_path))
    assert exe["requiredInput"] == ["install-command", "uninstall-command", "detection-rules"]
    assert "setup.exe is not an MSI" in exe["note"]
