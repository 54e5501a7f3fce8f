"""The composition root: one run of the step, for the CLI, every CI entry and the demo.

The environment is read here and nowhere below: the named setting's secrets, the tuning
knobs, a CI's OIDC variables. Inputs are validated and every artifact read before any
network call, so bad input fails fast and writes nothing. Whatever happens, the run ends in
one place: outputs, a job summary and the exit code, for one artifact or many.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from intune_step.auth.guards import require_write_role
from intune_step.auth.permissions import feature_lines
from intune_step.auth.signin import sign_in
from intune_step.ci.base import CIHost
from intune_step.commands.cancel import Cancelled as Cancelled  # its old home, re-exported
from intune_step.commands.cancel import cancellation
from intune_step.commands.failures import exit_code, failure_line
from intune_step.commands.outputs import (
    gate_outputs,
    promote_outputs,
    rollback_outputs,
    run_exit_code,
    step_outputs,
)
from intune_step.commands.summary import failure_markdown, gate_markdown, run_markdown
from intune_step.commands.targets import publish_to_targets
from intune_step.config.gate import parse_gate
from intune_step.config.named_settings import apply_named_setting
from intune_step.config.options import build_options
from intune_step.config.settings import Settings, build_settings
from intune_step.config.targets import expand_targets
from intune_step.config.text import GUID
from intune_step.config.tuning import Tuning
from intune_step.errors import EXIT_OK, GateError, IntuneStepError, SettingsError
from intune_step.publish.api import install_status, promote, publish_files, rollback
from intune_step.publish.gate import GateStatus
from intune_step.publish.several import Outcome
from intune_step.transport.http import make_client
from intune_step.upload.blob import BlockUploader

ResultT = TypeVar("ResultT")
SECRET_INPUTS = ("client-secret", "certificate", "certificate-password")


def mask_secret_inputs(raw: Mapping[str, str | None], host: CIHost) -> None:
    """Register the secret inputs with the host: called the moment the inputs are read."""
    for name in SECRET_INPUTS:
        if raw.get(name):
            host.mask(str(raw[name]))


def run_publish(raw: Mapping[str, str | None], host: CIHost, workspace: Path | None = None,
                environ: Mapping[str, str] | None = None) -> int:
    """Publish per ``raw`` inputs (already masked), reporting through ``host``; the exit code.

    ``environ``: the job's environment (default: this process's), read here and only here.
    """

    def publish(job: _Job) -> int:
        targets = expand_targets(job.raw, job.workspace, job.env, host, job.tuning.allowed_hosts)
        if targets is not None:  # an entry naming several targets (commands/targets.py)
            job.setting_name = targets.group
            if parse_gate(job.raw).wait:
                raise SettingsError(
                    f"wait-for-installs runs for one tenant; {targets.group} names several",
                    fix="publish to the targets, then run `intune-step status` for each "
                        "tenant's app-id (the targets output has them)")
            return publish_to_targets(targets, host, job.env, job.workspace, job.tuning,
                                      uploader=BlockUploader)
        settings = job.settings()
        options = build_options(job.raw, job.workspace)
        outcomes = publish_files(settings, options, reporter=host, tuning=job.tuning,
                                 environ=job.env, workspace=job.workspace,
                                 uploader=BlockUploader,  # looked up here: bench swaps it
                                 gate=parse_gate(job.raw))
        return _report_outcomes(outcomes, options.several, settings.setting_name,
                                job.setting_name, host)

    return _Job(raw, host, workspace, environ).run(publish)


def run_rollback(raw: Mapping[str, str | None], host: CIHost, workspace: Path | None = None,
                 environ: Mapping[str, str] | None = None) -> int:
    """Move a bad Win32 version's assignments back to the version before it."""
    return _run_on_build(raw, host, workspace, environ, rollback, rollback_outputs)


def run_promote(raw: Mapping[str, str | None], host: CIHost, workspace: Path | None = None,
                environ: Mapping[str, str] | None = None) -> int:
    """Give a build the next ring's assignments (publish/promote.py); no publish."""
    return _run_on_build(raw, host, workspace, environ, promote, promote_outputs)


def _run_on_build(raw: Mapping[str, str | None], host: CIHost, workspace: Path | None,
                  environ: Mapping[str, str] | None, command: Callable[..., ResultT],
                  outputs: Callable[[ResultT], dict[str, str]]) -> int:
    """A command on a build already in Intune (rollback, promote): the inputs read as a
    publish reads them, the command's outputs, exit 0 (or the failure's code)."""

    def body(job: _Job) -> int:
        settings = job.settings()
        options = build_options(job.raw, job.workspace)
        result = command(settings, options, reporter=host, tuning=job.tuning,
                         environ=job.env, workspace=job.workspace)
        host.set_outputs(outputs(result))
        return EXIT_OK

    return _Job(raw, host, workspace, environ).run(body)


def run_status(raw: Mapping[str, str | None], host: CIHost, version: str | None,
               workspace: Path | None = None, environ: Mapping[str, str] | None = None) -> int:
    """The install gate on its own (`intune-step status`) for the app in ``app-id``."""

    def status(job: _Job) -> int:
        settings = job.settings()
        bar = parse_gate(job.raw, standalone=True)
        app_id = (job.raw.get("app-id") or "").strip()
        if not GUID.match(app_id):
            raise SettingsError("status needs the app's ID (app-id, a GUID)",
                                fix="pass --app-id, e.g. a publish run's app-id output")
        try:
            result = install_status(settings, app_id, bar, version=version, reporter=host,
                                    tuning=job.tuning, environ=job.env, workspace=job.workspace)
        except GateError as exc:
            return _report_gate_failure(exc, host)
        host.set_outputs({"app-id": app_id, **gate_outputs(result)})
        host.summary(gate_markdown(result))
        return EXIT_OK

    return _Job(raw, host, workspace, environ).run(status)


def _report_gate_failure(exc: GateError, host: CIHost) -> int:
    """A gate that failed or timed out: its counts as outputs, the devices in the summary."""
    gate = exc.status if isinstance(exc.status, GateStatus) else None
    host.set_outputs(gate_outputs(gate))
    if gate is not None:
        host.summary(gate_markdown(gate))
    host.error(failure_line(exc))
    return exc.exit_code


def run_check(raw: Mapping[str, str | None], host: CIHost, workspace: Path | None = None,
              environ: Mapping[str, str] | None = None) -> int:
    """Sign in and run the token checks alone (`intune-step check`): no artifact, no Graph."""

    def check(job: _Job) -> int:
        settings = job.settings()
        host.info(settings.describe())
        with make_client(ca_file=job.tuning.ca_file, ca_dir=job.tuning.ca_dir) as http:
            _, facts = sign_in(settings, http, host, job.env, job.workspace, job.tuning,
                               require_write=False)
        if not facts.readable:
            host.warning("the access token is not a readable JWT: its permissions per feature "
                         "cannot be listed")
        else:
            for granted, line in feature_lines(facts.roles):
                (host.info if granted else host.warning)(f"Permission for {line}")
        require_write_role(facts, settings)  # publishing needs it: fail after every line
        host.info("Ready to publish: sign-in, tenant and permission checks passed")
        return EXIT_OK

    return _Job(raw, host, workspace, environ).run(check)


class _Job:
    """One run as the composition root sees it: the inputs, the environment (read here and
    only here), the tuning it holds, and the one handler any failure ends in."""

    def __init__(self, raw: Mapping[str, str | None], host: CIHost, workspace: Path | None,
                 environ: Mapping[str, str] | None) -> None:
        self.raw = raw
        self.host = host
        self.workspace = workspace or Path.cwd()
        self.env: Mapping[str, str] = os.environ if environ is None else environ
        self.setting_name = _setting_name(raw)  # for the failure summary, as given
        self.tuning = Tuning()

    def run(self, body: Callable[[_Job], int]) -> int:
        try:
            with cancellation():  # SIGINT, SIGTERM, SIGBREAK: cleanup runs, then exit 130
                self.tuning = Tuning.from_environ(self.env, self.host.warning)
                return body(self)
        except Exception as exc:
            if self.tuning.debug and not isinstance(exc, IntuneStepError):
                raise  # a bug: the traceback only on request
            return _report_failure(exc, self.host, self.setting_name)

    def settings(self) -> Settings:
        """The named setting (its secrets from the environment) under the inputs, checked."""
        self.raw = apply_named_setting(self.raw, self.workspace, self.env, self.host,
                                       self.tuning.allowed_hosts)
        self.setting_name = _setting_name(self.raw) or self.setting_name
        return build_settings(self.raw, self.env)


def _setting_name(raw: Mapping[str, str | None]) -> str | None:
    return (raw.get("setting-name") or "").strip() or None


def _report_outcomes(outcomes: list[Outcome], several: bool, setting_label: str,
                     given_name: str | None, host: CIHost) -> int:
    """The one way out of a run that reached its artifacts: outputs, summary, lines, code.

    One path that failed ends like any failed run; ``given_name`` is the setting name the
    inputs gave (its failure summary shows none when they gave none)."""
    first = outcomes[0]
    gated = first.result is not None and isinstance(first.error, GateError)
    if not several and first.error is not None and not gated:
        return _report_failure(first.error, host, given_name)
    host.set_outputs(step_outputs(outcomes, several))
    gates = "".join(gate_markdown(o.gate) for o in outcomes if o.gate is not None)
    host.summary(run_markdown(outcomes, several, setting_label) + ("\n" + gates if gates else ""))
    for outcome in outcomes:
        if outcome.error is not None:
            line = failure_line(outcome.error)
            host.error(f"{outcome.file}: {line}" if several else line)
        elif outcome.result is not None and outcome.result.app_url:
            prefix = f"[{outcome.file}] " if several else ""
            host.info(f"{prefix}View at: {outcome.result.app_url}")
    return run_exit_code(outcomes)


def _report_failure(exc: Exception, host: CIHost, setting_name: str | None) -> int:
    """One error line and a summary for a run stopped before (or across) its artifacts."""
    line = failure_line(exc)
    host.error(line)
    host.summary(failure_markdown(line, setting_name))
    return exit_code(exc)
