"""Read $GITHUB_OUTPUT the way the runner's FileCommandManager does (key=value or heredoc).

A port of actions/runner ``SetEnvFileCommand`` (src/Runner.Worker/FileCommandManager.cs),
which $GITHUB_OUTPUT shares: the file is read as it is (no newline translation), a line ends
at LF, and on Windows (``OS_WINDOWS``) at CRLF too; a heredoc value is everything between its
``NAME<<DELIMITER`` line and the line that equals the delimiter, less that last newline.
"""

from __future__ import annotations

from pathlib import Path


def _read_line(text: str, index: int, windows: bool) -> tuple[str | None, int, str]:
    """(line, index after it, the newline that ended it) as the runner's ReadLine."""
    if index >= len(text):
        return None, index, ""
    lf = text.find("\n", index)
    if lf < 0:
        return text[index:], len(text), ""
    if windows:
        crlf = text.find("\r\n", index)
        if 0 <= crlf < lf:
            return text[index:crlf], crlf + 2, "\r\n"
    return text[index:lf], lf + 1, "\n"


def parse_github_text(text: str, windows: bool = False) -> dict[str, str]:
    values: dict[str, str] = {}
    line, index, _ = _read_line(text, 0, windows)
    while line is not None:
        if line:
            equals, heredoc = line.find("="), line.find("<<")
            if equals >= 0 and (heredoc < 0 or equals < heredoc):
                key, value = line.split("=", 1)
                values[key] = value
            elif heredoc >= 0 and (equals < 0 or heredoc < equals):
                key, delimiter = line.split("<<", 1)
                if not key or not delimiter:
                    raise ValueError(f"Invalid format '{line}'")
                start = end = index
                current, index, newline = _read_line(text, index, windows)
                while current != delimiter:
                    if current is None:
                        raise ValueError(f"Matching delimiter not found '{delimiter}'")
                    end = index - len(newline)
                    current, index, newline = _read_line(text, index, windows)
                values[key] = text[start:end] if end > start else ""
            else:
                raise ValueError(f"Invalid format '{line}'")
        line, index, _ = _read_line(text, index, windows)
    return values


def parse_github_output(path: Path, windows: bool = False) -> dict[str, str]:
    return parse_github_text(path.read_bytes().decode("utf-8"), windows)
