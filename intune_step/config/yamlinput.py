"""Inputs that hold a YAML mapping, written inline or as ``@path`` to a file in the workspace.

A multi-line action input is the pleasant way to write structured settings in a workflow; a
file keeps long ones out of it. Either way the text is parsed with ``yaml.safe_load`` and
problems become SettingsError naming the line, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from intune_step.config.paths import in_workspace
from intune_step.errors import SettingsError

MAX_YAML_BYTES = 256 * 1024  # settings, not data: far above any real win32 or properties file


def load_mapping(name: str, text: str | None, workspace: Path | None) -> dict[str, Any] | None:
    """Parse input ``name``; None when it is empty. Keys must be strings."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    source = f"the {name} input"
    if text.startswith("@"):
        text, source = _read_file(name, text[1:].strip(), workspace)
    if len(text.encode()) > MAX_YAML_BYTES:
        raise SettingsError(f"{source} is larger than {MAX_YAML_BYTES} bytes",
                            fix="keep only settings in it")
    data = _parse(text, source)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise SettingsError(
            f"{source} must be a YAML mapping (key: value lines), not a {_kind(data)}",
            fix=f"write it as `key: value` lines, e.g. {_example(name)}",
        )
    bad = [key for key in data if not isinstance(key, str)]
    if bad:
        raise SettingsError(f"{source} has a key that is not text: {bad[0]!r}",
                            fix="quote the key")
    return data


def _read_file(name: str, relative: str, workspace: Path | None) -> tuple[str, str]:
    if not relative:
        raise SettingsError(f"the {name} input is '@' without a path",
                            fix=f"write @path/to/{name}.yml (relative to the workspace)")
    path = in_workspace(Path(relative), workspace)
    source = f"the {name} file {relative}"
    if not path.is_file():
        raise SettingsError(f"{source} does not exist",
                            fix="give its path relative to the workspace (repository root)")
    if path.stat().st_size > MAX_YAML_BYTES:
        raise SettingsError(f"{source} is larger than {MAX_YAML_BYTES} bytes",
                            fix="keep only settings in it")
    try:
        return path.read_text(encoding="utf-8-sig"), source
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{source} is not UTF-8 text", fix="save it as UTF-8") from exc


def _parse(text: str, source: str) -> Any:
    import yaml  # only a run with a YAML input pays for it

    try:
        # Aliases could make a few bytes expand into a huge request body; no setting needs them.
        for token in yaml.scan(text):
            if isinstance(token, yaml.AliasToken):
                line = token.start_mark.line + 1
                raise SettingsError(f"{source} uses a YAML alias at line {line}",
                                    fix="write the value out instead of *referencing it")
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        raise SettingsError(
            f"{source} is not valid YAML{where}: {problem}",
            fix="check the indentation and quoting on that line (quote values containing ': ' "
            "or starting with a special character such as '%', '@', '*' or '{')",
        ) from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"{source} is not valid YAML: {exc}",
                            fix="check its indentation and quoting") from exc


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "single string"
    return type(value).__name__


def _example(name: str) -> str:
    return "`install-command: setup.exe /S`" if name == "win32" else "`owner: Mobile team`"
