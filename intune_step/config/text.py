"""Reading one input's text: the one cleaning rule and the one GUID pattern every parser uses."""

from __future__ import annotations

import re
from collections.abc import Mapping

from intune_step.errors import SettingsError

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# The same GUID in braces, as Windows Installer writes product and upgrade codes.
BRACED_GUID = re.compile(r"^\{" + GUID.pattern[1:-1] + r"\}$")
TRUE_WORDS = ("true", "True", "TRUE")
FALSE_WORDS = ("false", "False", "FALSE", "")


def clean(raw: Mapping[str, str | None], name: str) -> str | None:
    """The input ``name`` stripped, or None when it is absent or blank."""
    value = raw.get(name)
    if value is None:
        return None
    value = value.strip()
    if any("\ud800" <= char <= "\udfff" for char in value):
        # Bytes that are not UTF-8 reach Python as lone surrogates (a Latin-1 pipeline
        # variable); Graph takes UTF-8 JSON only. The value is not echoed: it may be a secret.
        raise SettingsError(f"{name} is not valid UTF-8 text",
                            fix=f"pass {name} UTF-8 encoded (check the pipeline's file and "
                            "variable encodings)")
    return value or None


def parse_bool(name: str, value: str | None) -> bool:
    """Strict YAML-1.2-core booleans, as GitHub's toolkit reads them."""
    if value is None or value in FALSE_WORDS:
        return False
    if value in TRUE_WORDS:
        return True
    raise SettingsError(f"{name} must be true or false, not {value!r}", fix=f"set {name}: true")
