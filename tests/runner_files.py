"""Read $GITHUB_OUTPUT the way the runner's FileCommandManager does (key=value or heredoc).

On Linux its ``ReadLine`` splits on LF alone and a heredoc value is the raw text between the
lines (actions/runner src/Runner.Worker/FileCommandManager.cs), so a CR inside a value stays:
the file is read as bytes, with no newline translation.
"""

from __future__ import annotations

from pathlib import Path


def parse_github_output(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    lines = path.read_bytes().decode("utf-8").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        heredoc = line.find("<<")
        equals = line.find("=")
        if heredoc > 0 and (equals < 0 or heredoc < equals):
            key, delimiter = line[:heredoc], line[heredoc + 2:]
            body: list[str] = []
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise ValueError(f"Matching delimiter not found '{delimiter}'")
            i += 1
            values[key] = "\n".join(body)
        elif equals > 0:
            values[line[:equals]] = line[equals + 1:]
        else:
            raise ValueError(f"Invalid format '{line}'")
    return values
