"""The `intune-step` command. Its publish options are generated from action.yml's inputs,
so the CLI, the env vars and the Action can never disagree on a name."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from intune_step.artifacts import read_artifact
from intune_step.ci import detect_host
from intune_step.ci.base import CIHost
from intune_step.commands.failures import failure_line
from intune_step.config.action import action_definition
from intune_step.errors import IntuneStepError
from intune_step.version import __version__

BOOLEAN_INPUTS = ("dry-run", "replace-assignments", "allow-downgrade", "send-certificate-chain")


def env_name(input_name: str) -> str:
    """`client-id` -> `INTUNE_CLIENT_ID`."""
    return "INTUNE_" + input_name.replace("-", "_").upper()


def _input_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add one option per action.yml input (except `file`, the argument)."""
    for name, spec in reversed(list(action_definition()["inputs"].items())):
        if name == "file":
            continue
        help_text = str(spec.get("description", "")) + f"  [env: {env_name(name)}]"
        if name in BOOLEAN_INPUTS:
            option = click.option(f"--{name}", is_flag=True, default=None,
                                  envvar=env_name(name), help=help_text)
        else:
            option = click.option(f"--{name}", envvar=env_name(name), default=None,
                                  show_envvar=False, help=help_text)
        func = option(func)
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


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@_input_options
@ci_option
def publish(file: Path, host_name: str | None, **options: Any) -> None:
    """Publish FILE (.ipa, .apk, ...) to Intune and hand its outputs to the CI it runs in
    (at a terminal: print them as key=value)."""
    raw: dict[str, str | None] = {"file": str(file)}
    for key, value in options.items():
        name = key.replace("_", "-")
        if name in BOOLEAN_INPUTS:
            raw[name] = "true" if value else None
        else:
            raw[name] = value
    from intune_step.commands.run import mask_secret_inputs, run_publish

    host = host_for(host_name)
    mask_secret_inputs(raw, host)
    sys.exit(run_publish(raw, host))


# The inputs that decide where and as whom to sign in: all that `check` needs.
CHECK_INPUTS = ("client-id", "client-secret", "auth-url", "credential", "certificate",
                "certificate-file", "certificate-password", "send-certificate-chain",
                "federated-token-env", "federated-token-file", "service-connection-id",
                "expected-tenant", "settings-file", "setting-name", "graph-url", "graph-version")


def _check_options(func: Callable[..., Any]) -> Callable[..., Any]:
    inputs = action_definition()["inputs"]
    for name in reversed(CHECK_INPUTS):
        help_text = str(inputs[name].get("description", "")) + f"  [env: {env_name(name)}]"
        func = click.option(f"--{name}", envvar=env_name(name), default=None,
                            show_envvar=False, help=help_text)(func)
    return func


@main.command()
@_check_options
@ci_option
def check(host_name: str | None, **options: Any) -> None:
    """Sign in and check the tenant and the Intune permission, publishing nothing.

    For setting up a pipeline: run it with the same settings the pipeline will use."""
    raw: dict[str, str | None] = {key.replace("_", "-"): value for key, value in options.items()}
    from intune_step.commands.run import mask_secret_inputs, run_check

    host = host_for(host_name)
    mask_secret_inputs(raw, host)
    sys.exit(run_check(raw, host))


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


def _text(value: Any) -> str:
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
def sandbox(state_dir: Path | None) -> None:
    """Run the local Intune emulator and print the settings to publish into it."""
    from intune_step.emulator import EmulatorConfig
    from intune_step.emulator.sandbox import run_sandbox

    run_sandbox(EmulatorConfig(state_dir=state_dir))


@main.command()
@click.option("--keep-running", is_flag=True, help="Keep the emulator up afterwards.")
def demo(keep_running: bool) -> None:
    """Publish a generated sample app into a fresh local emulator, end to end."""
    from intune_step.commands.demo import run_demo

    sys.exit(run_demo(keep_running=keep_running))
