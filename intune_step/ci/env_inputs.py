"""Inputs from plain environment variables, for hosts that have no INPUT_* convention.

Every host but GitHub reads ``INTUNE_<NAME>`` (``client-id`` -> ``INTUNE_CLIENT_ID``); a host may
put its own names first (Appcircle's ``AC_*``). Each value remembers the variable it came from,
so the log can say where an input was read without showing it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


def intune_env_name(input_name: str) -> str:
    """`client-id` -> `INTUNE_CLIENT_ID` (the CLI's envvar rule, shared by every host)."""
    return "INTUNE_" + input_name.replace("-", "_").replace(" ", "_").upper()


def read_env_inputs(
    environ: Mapping[str, str],
    names: list[str],
    candidates: Callable[[str], list[str]],
    resolve: Callable[[str], str | None] | None = None,
) -> tuple[dict[str, str | None], dict[str, str]]:
    """Return ({input: value or None}, {input: variable it came from}).

    The first candidate variable with a non-blank value wins; blank means "not provided", as
    for GitHub inputs. ``resolve`` may rewrite a raw value (or drop it by returning None).
    """
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for name in names:
        values[name] = None
        for key in candidates(name):
            raw = environ.get(key)
            if raw is not None and resolve is not None:
                raw = resolve(raw)
            if raw is not None and raw.strip():
                values[name] = raw.strip()
                sources[name] = key
                break
    return values, sources


def intune_candidates(name: str) -> list[str]:
    return [intune_env_name(name)]
