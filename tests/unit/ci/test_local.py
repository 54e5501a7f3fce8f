"""The terminal: colour and a progress bar on a TTY, plain text otherwise."""

from __future__ import annotations

import io

from intune_step.ci.local import LocalHost


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_tty_means_plain_lines_and_periodic_progress() -> None:
    out, err = io.StringIO(), io.StringIO()
    host = LocalHost(out, err, environ={})
    host.warning("careful")
    host.error("broken")
    host.progress("Uploading", 0, 100)
    host.progress("Uploading", 50, 100)  # within progress_every: dropped
    host.progress("Uploading", 100, 100)
    text = err.getvalue()
    assert "\x1b" not in text and "\r" not in text
    lines = text.splitlines()
    assert lines[:2] == ["Warning: careful", "Error: broken"]
    assert len(lines) == 4 and "(100%)" in lines[-1]


def test_a_tty_gets_colour_and_a_bar() -> None:
    err = Tty()
    host = LocalHost(io.StringIO(), err, environ={})
    host.error("broken")
    host.progress("Uploading", 512, 1024)
    text = err.getvalue()
    assert "\x1b[31m" in text and "Error: broken" in text
    assert "\r" in text and "█" in text and "░" in text


def test_no_color_keeps_the_bar_but_drops_colour() -> None:
    err = Tty()
    host = LocalHost(io.StringIO(), err, environ={"NO_COLOR": "1"})
    host.error("broken")
    host.progress("Uploading", 1, 2)
    assert "\x1b[31m" not in err.getvalue() and "█" in err.getvalue()


def test_outputs_go_to_stdout_and_inputs_come_from_intune_variables() -> None:
    out = io.StringIO()
    host = LocalHost(out, io.StringIO(), environ={"INTUNE_FILE": "a.ipa"})
    assert host.read_inputs(["file", "app-id"]) == {"file": "a.ipa", "app-id": None}
    host.mask("hunter22")
    host.set_outputs({"app-id": "x", "note": "hunter22"})
    assert out.getvalue() == "app-id=x\nnote=***\n"


def test_a_terminal_never_prints_another_hosts_command_markers() -> None:
    """`--ci local` inside a CI: metadata must not read as ##vso[ or GitHub's legacy ##[."""
    import io

    from intune_step.ci.local import LocalHost

    from ...ci_runners import azure_parse, commands, github_process

    out, err = io.StringIO(), io.StringIO()
    host = LocalHost(out=out, err=err, environ={})
    host.info("App ##vso[task.setvariable variable=x]y ##[error]z")
    host.set_outputs({"version": "1 ##VSO[task.setsecret]s"})
    printed = out.getvalue() + err.getvalue()
    assert commands(printed, azure_parse) == [] and github_process(printed) == []
    assert "**vso[task.setvariable" in printed and "**[error]" in printed


def test_publish_picks_the_host_from_the_environment(monkeypatch) -> None:
    from intune_step.ci.azure import AzureDevOpsHost
    from intune_step.ci.gitlab import GitLabHost
    from intune_step.ci.local import LocalHost
    from intune_step.commands.cli import host_for

    monkeypatch.delenv("INTUNE_STEP_CI", raising=False)
    for marker in ("GITHUB_ACTIONS", "GITLAB_CI", "TF_BUILD", "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI",
                   "AC_APPCIRCLE"):
        monkeypatch.delenv(marker, raising=False)
    assert isinstance(host_for(None), LocalHost)
    monkeypatch.setenv("GITLAB_CI", "true")
    assert isinstance(host_for(None), GitLabHost)
    assert isinstance(host_for("azure"), AzureDevOpsHost)
