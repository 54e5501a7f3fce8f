"""The `intune-step` command. Its publish options are generated from action.yml's inputs,
so the CLI, the env vars and the Action can never disagree on a name."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from intune_step.artifacts import read_artifact
from intune_step.ci import detect_host
from intune_step.ci.base import CIHost
from intune_step.commands.console import safe_console
from intune_step.commands.failures import failure_line
from intune_step.config.action import action_definition
from intune_step.errors import IntuneStepError
from intune_step.version import __version__

BOOLEAN_INPUTS = ("dry-run", "replace-assignments", "allow-downgrade", "send-certificate-chain",
                  "wait-for-installs")
# Numeric inputs get a click type, so a wrong value is a usage error naming the option.
NUMERIC_INPUTS: dict[str, click.IntRange] = {
    "lock-timeout": click.IntRange(min=0),
    "max-parallel": click.IntRange(1, 10),
}


def env_name(input_name: str) -> str:
    """`client-id` -> `INTUNE_CLIENT_ID`."""
    return "INTUNE_" + input_name.replace("-", "_").upper()


def flag_help(description: str) -> str:
    """action.yml says "true to send ..."; a flag is described by what giving it does."""
    text = re.sub(r"\s*Default false\.?\s*$", "", description.strip())
    match = re.match(r"true to (\w)", text)
    return text[match.end(1) - 1].upper() + text[match.end(1):] if match else text


def input_option(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The one option for action.yml input ``name``: the same on every command."""
    description = str(action_definition()["inputs"][name].get("description", ""))
    if name in BOOLEAN_INPUTS:
        return click.option(f"--{name}", is_flag=True, default=None, envvar=env_name(name),
                            help=f"{flag_help(description)}  [env: {env_name(name)}=true]")
    return click.option(f"--{name}", envvar=env_name(name), default=None, show_envvar=False,
                        type=NUMERIC_INPUTS.get(name, click.STRING),
                        help=f"{description}  [env: {env_name(name)}]")


def raw_inputs(options: dict[str, Any]) -> dict[str, str | None]:
    """Click's values as the step's raw inputs: flags as "true" or unset, numbers as text."""
    raw: dict[str, str | None] = {}
    for key, value in options.items():
        name = key.replace("_", "-")
        if name in BOOLEAN_INPUTS:
            raw[name] = "true" if value else None
        else:
            raw[name] = None if value is None else str(value)
    return raw


def _input_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add one option per action.yml input (except `file`, the arguments)."""
    for name in reversed(list(action_definition()["inputs"])):
        if name != "file":
            func = input_option(name)(func)
    return func


def _fail(exc: IntuneStepError) -> None:
    click.echo(f"Error: {failure_line(exc)}", err=True)
    sys.exit(exc.exit_code)


CI_HELP = ("github, gitlab, azure-devops, appcircle, local or auto (default: detect from the "
           "environment; env INTUNE_STEP_CI).")


def ci_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--ci", "host_name", default=None, metavar="NAME", help=CI_HELP)(func)


def host_for(name: str | None) -> CIHost:
    """The CI this runs in, found from its environment whichever command started the step:
    inside GitLab a dotenv report, inside Azure DevOps output variables and setsecret."""
    try:
        return detect_host(os.environ, name)
    except IntuneStepError as exc:
        _fail(exc)
        raise  # not reached: _fail exits


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="intune-step")
def main() -> None:
    """Publish a build artifact and its metadata to Microsoft Intune."""
    safe_console()


@main.command()
@click.argument("files", metavar="FILE...", nargs=-1, required=True,
                type=click.Path(path_type=Path))
@_input_options
@ci_option
def publish(files: tuple[Path, ...], host_name: str | None, **options: Any) -> None:
    """Publish FILE (.ipa, .apk, ...) to Intune and hand its outputs to the CI it runs in
    (at a terminal: print them as key=value).

    Several files (or a quoted glob pattern) publish several artifacts; the outputs are then
    JSON lists, as with the file input's one-per-line form."""
    raw = {"file": "\n".join(str(file) for file in files), **raw_inputs(options)}
    from intune_step.commands.run import mask_secret_inputs, run_publish

    host = host_for(host_name)
    mask_secret_inputs(raw, host)
    sys.exit(run_publish(raw, host))


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@_input_options
@ci_option
def rollback(file: Path, host_name: str | None, **options: Any) -> None:
    """Move the assignments of FILE's version (a Win32 app published with versioning: new-app)
    back to the version before it. iOS and Android apps cannot go back: it says so."""
    from intune_step.commands.run import run_rollback

    _on_build(run_rollback, file, host_name, options)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@_input_options
@ci_option
def promote(file: Path, host_name: str | None, **options: Any) -> None:
    """Give FILE's build (or --app-id) the assignments of ring --promote-to, keeping every
    other assignment; --promote-from moves it off that ring. A second run writes nothing;
    --dry-run prints the plan."""
    from intune_step.commands.run import run_promote

    _on_build(run_promote, file, host_name, options)


def _on_build(run: Callable[[dict[str, str | None], CIHost], int], file: Path,
              host_name: str | None, options: dict[str, Any]) -> None:
    """Run a command on a build already in Intune (rollback, promote) in the CI it runs in."""
    from intune_step.commands.run import mask_secret_inputs

    raw = {"file": str(file), **raw_inputs(options)}
    host = host_for(host_name)
    mask_secret_inputs(raw, host)
    sys.exit(run(raw, host))


# The inputs that decide where and as whom to sign in: all that `check` needs.
CHECK_INPUTS = ("client-id", "client-secret", "auth-url", "credential", "certificate",
                "certificate-file", "certificate-password", "send-certificate-chain",
                "federated-token-env", "federated-token-file", "service-connection-id",
                "expected-tenant", "settings-file", "setting-name", "graph-url", "graph-version")


def _check_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for name in reversed(CHECK_INPUTS):
        func = input_option(name)(func)
    return func


@main.command()
@_check_options
@ci_option
def check(host_name: str | None, **options: Any) -> None:
    """Sign in and check the tenant and the Intune permission, publishing nothing; then one
    line per feature (publish, install gate, groups and filters by name): ok or missing.

    For setting up a pipeline: run it with the same settings the pipeline will use."""
    raw = raw_inputs(options)
    from intune_step.commands.run import mask_secret_inputs, run_check

    host = host_for(host_name)
    mask_secret_inputs(raw, host)
    sys.exit(run_check(raw, host))


# The install gate's bar, for `status` (which always waits: wait-for-installs is implied).
STATUS_INPUTS = ("app-id", "installs-required", "failures-allowed", "install-timeout",
                 "install-group")


def _status_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for name in reversed(CHECK_INPUTS + STATUS_INPUTS):
        func = input_option(name)(func)
    return func


@main.command()
@_status_options
@click.option("--version", "app_version", default=None, metavar="VERSION",
              help="The version to wait for, as the publish run's version output shows it "
                   "(default: the app's version in Intune now).")
@ci_option
def status(host_name: str | None, app_version: str | None, **options: Any) -> None:
    """Wait until the app in --app-id has reached devices (the install gate), publishing
    nothing: exit 0 when the bar is met, 4 when too many installs failed, 5 at the time limit.

    The counts and the verdict are the step's outputs (installed, failed, pending,
    not-applicable, gate)."""
    raw = raw_inputs(options)
    from intune_step.commands.run import mask_secret_inputs, run_status

    host = host_for(host_name)
    mask_secret_inputs(raw, host)
    sys.exit(run_status(raw, host, app_version))


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metadata record as JSON.")
def inspect(file: Path, as_json: bool) -> None:
    """Print the metadata read from FILE, offline (text, or the same record as JSON).

    For a .intunewin it adds what a new Win32 app would get without a win32 input: the
    defaults derived from an MSI inside, or which settings an EXE needs.
    """
    try:
        meta = read_artifact(file)
    except IntuneStepError as exc:
        _fail(exc)
        return
    record = meta.to_json()
    if meta.app_type == "win32LobApp":
        from intune_step.graph.win32 import describe

        record["win32"] = describe(meta)
    if as_json:
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    for key, value in record.items():
        if isinstance(value, dict):  # one line per field: greppable, and nothing is hidden
            for sub, item in value.items():
                click.echo(f"{key}.{sub}: {_text(item)}")
        elif value is not None:
            click.echo(f"{key}: {_text(value)}")


BLOB = re.compile(r"[A-Za-z0-9+/]{64,}={0,2}")  # a base64 payload such as an iOS manifest


def _text(value: Any) -> str:
    if isinstance(value, str) and BLOB.fullmatch(value):
        size = len(value) * 3 // 4 - value.count("=")
        return f"({size} bytes of base64; --json shows them)"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


@main.command("ci")
@ci_option
def ci_command(host_name: str | None) -> None:
    """Run with the inputs of the CI this runs in (INPUT_*, INTUNE_*, AC_* ...)."""
    from intune_step.commands.ci_entry import run_ci

    sys.exit(run_ci(override=host_name))


@main.command()
@click.option("--state-dir", type=click.Path(path_type=Path), default=None,
              help="Where the emulator keeps its CA and blobs (default: a temp dir).")
@click.option("--port-login", type=click.IntRange(0, 65535), default=0,
              help="Port of the Entra login endpoint (default: any free port).")
@click.option("--port-graph", type=click.IntRange(0, 65535), default=0,
              help="Port of Microsoft Graph (default: any free port).")
@click.option("--port-blob", type=click.IntRange(0, 65535), default=0,
              help="Port of Azure Blob (default: any free port).")
@click.option("--azurite", is_flag=True, help="Store blobs in Azurite (npm) instead.")
@click.option("--timing", default=None, metavar="SPEC",
              help="States complete after a delay instead of after one read: 'realistic', "
                   "'at-once', or e.g. 'upload_uri=lognormal:2,0.5,commit=uniform:1,4,publish=2' "
                   "(docs/performance.md).")
def emulator(state_dir: Path | None, port_login: int, port_graph: int, port_blob: int,
             azurite: bool, timing: str | None) -> None:
    """Run the local Intune emulator and print the settings to publish into it."""
    from intune_step.emulator.sandbox import main as run_emulator

    args = ["--port-login", str(port_login), "--port-graph", str(port_graph),
            "--port-blob", str(port_blob)]
    args += ["--state-dir", str(state_dir)] if state_dir else []
    args += ["--azurite"] if azurite else []
    args += ["--timing", timing] if timing else []
    run_emulator(args)


@main.command()
@click.option("--keep-running", is_flag=True, help="Keep the emulator up afterwards.")
def demo(keep_running: bool) -> None:
    """Publish a generated sample app into a fresh local emulator, end to end."""
    from intune_step.commands.demo import run_demo

    sys.exit(run_demo(keep_running=keep_running))
