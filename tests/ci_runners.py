"""How each CI reads what the step prints or writes, ported from the runners' own parsers.

The adapters are tested against these, not against themselves:

- GitHub: actions/runner ``ActionCommand.TryParseV2`` (leading whitespace trimmed, ``::cmd
  k=v,k=v::data``, property and data unescaping tables), the legacy ``ActionCommand.TryParse``
  (``##[cmd k=v;k=v]data`` with ``##[`` anywhere in the line) and
  ``ActionCommandManager.TryProcessCommand`` (V2 first, then legacy; registered commands only,
  case-insensitive; ``stop-commands`` pauses both forms until ``::<token>::``), all in
  src/Runner.Common/ActionCommand.cs and src/Runner.Worker/ActionCommandManager.cs.
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


GITHUB_LEGACY = [("%3B", ";"), ("%0D", "\r"), ("%0A", "\n"), ("%5D", "]"), ("%25", "%")]
# The runner's registered command extensions (ActionCommandManager and its extensions).
GITHUB_COMMANDS = frozenset({
    "stop-commands", "set-env", "set-output", "save-state", "add-mask", "add-path",
    "add-matcher", "remove-matcher", "debug", "echo", "warning", "error", "notice", "group",
    "endgroup"})


def github_parse_legacy(line: str, registered: frozenset[str] = GITHUB_COMMANDS
                        ) -> Command | None:
    """``ActionCommand.TryParse``: ``##[`` anywhere, the first ``]`` after it ends the info."""
    start = line.find("##[")
    if start < 0:
        return None
    end = line.find("]", start)
    if end < 0:
        return None
    info = line[start + 3:end]
    name, space, props = info.partition(" ")
    if name.lower() not in registered:
        return None
    command = Command(name)
    if space:
        for pair in filter(None, props.split(";")):
            key, sep, value = pair.partition("=")
            if sep and key and value:
                command.properties[key] = _replace_all(value, GITHUB_LEGACY)
    command.data = _replace_all(line[end + 1:], GITHUB_LEGACY)
    return command


def github_process(text: str) -> list[Command]:
    """The commands the runner acts on in captured output, line by line, as
    ``TryProcessCommand`` does: V2 then legacy, registered names only, stop-commands state."""
    registered = set(GITHUB_COMMANDS)
    stop_token: str | None = None
    acted: list[Command] = []
    for line in text.splitlines():
        command = github_parse(line)
        if command is None or command.name.lower() not in registered:
            command = github_parse_legacy(line, frozenset(registered))
        if command is None:
            continue
        if stop_token is not None:
            if command.name.lower() == stop_token.lower():
                registered.discard(stop_token.lower())
                stop_token = None
            continue
        if command.name.lower() == "stop-commands":
            stop_token = command.data
            registered.add(stop_token.lower())
            continue
        acted.append(command)
    return acted


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


def azure_step_environment(step_name: str, found: list[Command]) -> dict[str, str]:
    """What the agent puts in the environment of a later step of the same job for the output
    variables a step named ``step_name`` set: variable ``<step>.<name>``, whose environment
    name is upper-cased with '.' and ' ' turned into '_' (agent ``VariableUtil``)."""
    env = {}
    for command in found:
        if command.name == "task.setvariable" and command.properties.get("isoutput") == "true":
            name = f"{step_name}.{command.properties['variable']}"
            env[name.replace(".", "_").replace(" ", "_").upper()] = command.data
    return env


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


SHELL_SPECIAL = "*#$@!?-0123456789"


def gitlab_expand(value: str, variables: dict[str, str]) -> str:
    """How GitLab Runner expands a CI/CD variable's value before a job sees it (every variable
    not marked raw, dotenv ones included): gitlab-runner common/spec/variables.go
    ``Variables.Expand`` -> ``ExpandValue`` = Go's ``os.Expand(value, b.Get)``, whose mapping
    ``value()`` returns ``$`` for the name ``$`` (so ``$$`` is one ``$``) and "" for ``* # @ !
    ? 0-9``; ``$NAME`` and ``${NAME}`` become the variable's value, "" when unknown."""
    out: list[str] = []
    i = 0
    while i < len(value):
        char = value[i]
        if char != "$" or i + 1 >= len(value):
            out.append(char)
            i += 1
            continue
        rest = value[i + 1:]
        if rest[0] == "{":
            close = rest.find("}")
            if close <= 1:  # "${}" or no closing brace: Go eats the bad syntax
                i += 1 + (2 if close == 1 else 1)
                continue
            name, width = rest[1:close], close + 1
        elif rest[0] in SHELL_SPECIAL:
            name, width = rest[0], 1
        else:
            match = re.match(r"[A-Za-z0-9_]*", rest)
            name = match.group(0) if match else ""
            width = len(name)
            if not name:  # "$" not followed by a name stays
                out.append("$")
                i += 1
                continue
        if name == "$":
            out.append("$")
        elif name in SHELL_SPECIAL:
            out.append("")
        else:
            out.append(variables.get(name, ""))
        i += 1 + width
    return "".join(out)
