"""CI hosts behind one interface; :func:`detect_host` picks the one we run in.

Detection checks one documented marker per CI, in a fixed order (markers as data, as
ci-info keeps them); INTUNE_STEP_CI (or ``--ci``) overrides it for tests and odd setups.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from intune_step.ci.base import CIHost
from intune_step.errors import SettingsError

OVERRIDE_VARIABLE = "INTUNE_STEP_CI"


def _true(value: str) -> bool:
    return value.strip().lower() == "true"


def _set(value: str) -> bool:
    """Present and not switched off: ci-info (vendors.json) takes AC_APPCIRCLE being set."""
    return bool(value.strip()) and value.strip().lower() != "false"


# (host, variable, test): GitHub injects GITHUB_ACTIONS=true into action containers, GitLab
# sets GITLAB_CI=true (tools that imitate GitLab, like gitlab-ci-local, set it to false on
# purpose: they need --ci), Azure Pipelines TF_BUILD=True (and the collection URI), Appcircle
# AC_APPCIRCLE.
MARKERS: tuple[tuple[str, str, Callable[[str], bool]], ...] = (
    ("github", "GITHUB_ACTIONS", _true),
    ("gitlab", "GITLAB_CI", _true),
    ("azure", "TF_BUILD", _true),
    ("azure", "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI", lambda value: bool(value.strip())),
    ("appcircle", "AC_APPCIRCLE", _set),
)
ALIASES = {
    "github": "github", "github-actions": "github",
    "gitlab": "gitlab", "gitlab-ci": "gitlab",
    "azure": "azure", "azure-devops": "azure", "azure-pipelines": "azure", "ado": "azure",
    "appcircle": "appcircle",
    "local": "local", "none": "local", "terminal": "local",
}
HOST_NAMES = ("github", "gitlab", "azure", "appcircle", "local")


def host_by_name(name: str, environ: Mapping[str, str]) -> CIHost:
    """A host adapter by its canonical name (see HOST_NAMES)."""
    if name == "github":
        from intune_step.ci.github import GitHubHost

        return GitHubHost(environ)
    if name == "gitlab":
        from intune_step.ci.gitlab import GitLabHost

        return GitLabHost(environ)
    if name == "azure":
        from intune_step.ci.azure import AzureDevOpsHost

        return AzureDevOpsHost(environ)
    if name == "appcircle":
        from intune_step.ci.appcircle import AppcircleHost

        return AppcircleHost(environ)
    from intune_step.ci.local import LocalHost

    return LocalHost(environ=environ)


def detect_name(environ: Mapping[str, str], override: str | None = None) -> tuple[str, str]:
    """Return (host name, why): the override if given, else the first marker present."""
    requested = (override or environ.get(OVERRIDE_VARIABLE) or "").strip().lower()
    if requested and requested != "auto":
        if requested not in ALIASES:
            raise SettingsError(
                f"unknown CI host {requested!r}",
                fix=f"set {OVERRIDE_VARIABLE} to one of {', '.join(HOST_NAMES)} (or auto)",
            )
        how = f"--ci {requested}" if override else f"{OVERRIDE_VARIABLE}={requested}"
        return ALIASES[requested], how
    for name, variable, test in MARKERS:
        value = environ.get(variable)
        if value is not None and test(value):
            return name, f"{variable}={value}"
    return "local", "no CI marker"


def detect_host(environ: Mapping[str, str] | None = None, override: str | None = None) -> CIHost:
    """The adapter for the CI we run in; raises SettingsError for an unknown override."""
    env = os.environ if environ is None else environ
    name, how = detect_name(env, override)
    host = host_by_name(name, env)
    host.detected_by = how
    return host
