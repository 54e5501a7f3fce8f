"""How each CI reads what the step prints or writes, ported from the runners' own parsers.

The adapters are tested against these, not against themselves:

- GitHub: actions/runner ``ActionCommand.TryParseV2`` (leading whitespace trimmed, ``::cmd
  k=v,k=v::data``, property and data unescaping tables).
- Azure DevOps: azure-pipelines-agent ``Command.TryParse`` (``##vso[`` anywhere in a line,
  properties split on ``;``, the first ``]`` ends them) with ``CommandStringConvertor.Unescape``
  (``%3B %0D %0A %5D``, then ``%AZP25`` -> ``%`` with the DECODE_PERCENTS knob's default on).
- GitLab: ``Ci::ParseDotenvArtifactService`` (every line ``/^(.*?)=(.*)$/``, both sides
  stripped, file under 5 KB) plus the variable-key rule ``[A-Za-z0-9_]+``.
- Appcircle: ``KEY=VALUE`` lines appended to $AC_ENV_FILE_PATH, read like a dotenv file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Command:
    name: str
    properties: dict[str, str] = field(default_factory=dict)
    data: str = ""


def _replace_all(text: str, mapping: list[tuple[str, str]]) -> str:
    for escaped, token in mapping:
        text = text.replace(escaped, token)
    return text


GITHUB_DATA = [("%0D", "\r"), ("%0A", "\n"), ("%25", "%")]
GITHUB_PROPERTY = [("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")]


def github_parse(line: str) -> Command | None:
    message = line.lstrip()
    if not message.startswith("::"):
        return None
    end = message.find("::", 2)
    if end < 0:
        return None
    info = message[2:end]
    name, _, props = info.partition(" ")
    command = Command(name)
    for pair in filter(None, props.strip().split(",")):
        key, sep, value = pair.partition("=")
        if sep and key and value:
            command.properties[key] = _replace_all(value, GITHUB_PROPERTY)
    command.data = _replace_all(message[end + 2:], GITHUB_DATA)
    return command


AZURE = [("%3B", ";"), ("%0D", "\r"), ("%0A", "\n"), ("%5D", "]"), ("%AZP25", "%")]


def azure_parse(line: str) -> Command | None:
    start = line.find("##vso[")
    if start < 0:
        return None
    end = line.find("]", start)
    if end < 0:
        return None
    info = line[start + len("##vso["):end]
    name, space, props = info.partition(" ")
    if len([part for part in name.split(".") if part]) != 2:
        return None
    command = Command(name)
    if space:
        for pair in filter(None, props.split(";")):
            key, sep, value = pair.partition("=")
            if sep and key and value:
                command.properties[key] = _replace_all(value, AZURE)
    command.data = _replace_all(line[end + 1:], AZURE)
    return command


def commands(text: str, parse: Callable[[str], Command | None]) -> list[Command]:
    """Every command in captured output, one per line (the runners read lines)."""
    found = []
    for line in text.splitlines():
        command = parse(line)
        if command is not None:
            found.append(command)
    return found


DOTENV_LIMIT = 5 * 1024
DOTENV_KEY = re.compile(r"^[A-Za-z0-9_]+$")


def gitlab_dotenv(raw: bytes) -> dict[str, str]:
    """Parse as GitLab does on upload; raise ValueError where GitLab would reject the report."""
    if len(raw) >= DOTENV_LIMIT:
        raise ValueError("Dotenv Artifact Too Big")
    values: dict[str, str] = {}
    lines = raw.decode("utf-8").split("\n")  # Ruby's each_line splits on LF only
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        match = re.match(r"^(.*?)=(.*)$", line)
        if match is None:
            raise ValueError(f"Invalid Format: {line!r}")
        key, value = match.group(1).strip(), match.group(2).strip()
        if not DOTENV_KEY.match(key):
            raise ValueError(f"invalid key {key!r}")
        values[key] = value
    return values


def appcircle_env(raw: bytes) -> dict[str, str]:
    """KEY=VALUE per line, as `echo "K=V" >> $AC_ENV_FILE_PATH` writes them."""
    return gitlab_dotenv(raw) if raw else {}
