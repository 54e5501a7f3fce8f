"""Host detection: one documented marker per CI, a fixed order, and an explicit override."""

from __future__ import annotations

import pytest

from intune_step.ci import detect_host
from intune_step.ci.appcircle import AppcircleHost
from intune_step.ci.azure import AzureDevOpsHost
from intune_step.ci.github import GitHubHost
from intune_step.ci.gitlab import GitLabHost
from intune_step.ci.local import LocalHost
from intune_step.commands.ci_entry import run_ci
from intune_step.errors import EXIT_BAD_INPUT, SettingsError


@pytest.mark.parametrize(
    ("environ", "expected", "why"),
    [
        ({"GITHUB_ACTIONS": "true", "CI": "true"}, GitHubHost, "GITHUB_ACTIONS=true"),
        ({"GITLAB_CI": "true", "CI": "true"}, GitLabHost, "GITLAB_CI=true"),
        ({"TF_BUILD": "True"}, AzureDevOpsHost, "TF_BUILD=True"),
        ({"SYSTEM_TEAMFOUNDATIONCOLLECTIONURI": "https://dev.azure.com/contoso/"},
         AzureDevOpsHost, "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI=https://dev.azure.com/contoso/"),
        ({"AC_APPCIRCLE": "true"}, AppcircleHost, "AC_APPCIRCLE=true"),
        ({"AC_APPCIRCLE": "1"}, AppcircleHost, "AC_APPCIRCLE=1"),
        ({"AC_APPCIRCLE": "false", "GITLAB_CI": "false"}, LocalHost, "no CI marker"),
        ({"CI": "true"}, LocalHost, "no CI marker"),
        ({}, LocalHost, "no CI marker"),
        ({"GITHUB_ACTIONS": "false", "GITLAB_CI": ""}, LocalHost, "no CI marker"),
    ],
)
def test_each_documented_marker_picks_its_host(environ, expected, why) -> None:
    host = detect_host(environ)
    assert type(host) is expected
    assert host.detected_by == why


def test_markers_are_checked_in_a_fixed_order() -> None:
    both = {"GITLAB_CI": "true", "GITHUB_ACTIONS": "true", "TF_BUILD": "True"}
    assert isinstance(detect_host(both), GitHubHost)
    assert isinstance(detect_host({"TF_BUILD": "True", "AC_APPCIRCLE": "true"}),
                      AzureDevOpsHost)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("gitlab", GitLabHost), ("GitLab", GitLabHost), ("azure-devops", AzureDevOpsHost),
     ("ado", AzureDevOpsHost), ("appcircle", AppcircleHost), ("github", GitHubHost),
     ("none", LocalHost), ("local", LocalHost)],
)
def test_intune_step_ci_overrides_the_markers(value, expected) -> None:
    host = detect_host({"GITHUB_ACTIONS": "true", "INTUNE_STEP_CI": value})
    assert type(host) is expected
    assert host.detected_by == f"INTUNE_STEP_CI={value.lower()}"


def test_the_argument_beats_the_variable_and_auto_means_detect() -> None:
    env = {"INTUNE_STEP_CI": "gitlab", "TF_BUILD": "True"}
    assert isinstance(detect_host(env, override="appcircle"), AppcircleHost)
    assert isinstance(detect_host(env, override="auto"), AzureDevOpsHost)
    assert isinstance(detect_host({"INTUNE_STEP_CI": "auto", "TF_BUILD": "True"}),
                      AzureDevOpsHost)


def test_an_unknown_override_is_a_loud_settings_error() -> None:
    with pytest.raises(SettingsError, match="unknown CI host 'jenkins'") as info:
        detect_host({"INTUNE_STEP_CI": "jenkins"})
    assert "github, gitlab, azure, appcircle, local" in info.value.one_line()


def test_run_ci_reports_an_unknown_override_in_one_line(capsys) -> None:
    assert run_ci(environ={"INTUNE_STEP_CI": "jenkins"}) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("Error: SettingsError: unknown CI host 'jenkins'")
