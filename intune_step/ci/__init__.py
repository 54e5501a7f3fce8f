"""CI hosts behind one interface; :func:`detect_host` picks the one we run in."""

from __future__ import annotations

import os
from collections.abc import Mapping

from intune_step.ci.base import CIHost


def detect_host(environ: Mapping[str, str] | None = None, override: str | None = None) -> CIHost:
    """GitHub when GITHUB_ACTIONS=true, else the local terminal; INTUNE_STEP_CI overrides."""
    env = os.environ if environ is None else environ
    name = (override or env.get("INTUNE_STEP_CI") or "").strip().lower()
    if not name:
        name = "github" if env.get("GITHUB_ACTIONS") == "true" else "local"
    if name == "github":
        from intune_step.ci.github import GitHubHost

        return GitHubHost(env)
    from intune_step.ci.local import LocalHost

    return LocalHost()
