"""Code that reads and writes files the same way on Linux, macOS and Windows runners.

Windows' default text encoding is the ANSI code page, not UTF-8, so every text-mode open
names its encoding (ruff's PLW1514, still a preview rule there); and a NamedTemporaryFile
cannot be opened again by name on Windows while it is open, so the step does not use one.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "intune_step"
TEXT_METHODS = {"read_text", "write_text"}


def _mode(call: ast.Call, position: int) -> str:
    for keyword in call.keywords:
        if keyword.arg == "mode" and isinstance(keyword.value, ast.Constant):
            return str(keyword.value.value)
    if len(call.args) > position and isinstance(call.args[position], ast.Constant):
        return str(call.args[position].value)
    return "r"


def _text_calls_without_encoding(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        has_encoding = any(k.arg == "encoding" for k in node.keywords)
        if isinstance(func, ast.Name) and func.id == "open":
            text = "b" not in _mode(node, 1)
        elif isinstance(func, ast.Attribute) and func.attr == "open":
            first = node.args[0] if node.args else None
            if first is not None and not (
                isinstance(first, ast.Constant) and set(str(first.value)) <= set("rwaxbt+")
            ):
                continue  # zipfile's open(name), a store's open(key): not Path.open(mode)
            text = "b" not in _mode(node, 0)
        elif isinstance(func, ast.Attribute) and func.attr in TEXT_METHODS:
            text = True
        else:
            continue
        if text and not has_encoding:
            lines.append(node.lineno)
    return lines


def test_every_text_file_is_opened_with_an_encoding() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line in _text_calls_without_encoding(ast.parse(path.read_text(encoding="utf-8"))):
            found.append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    assert found == []


def test_the_check_itself_finds_an_open_without_encoding() -> None:
    source = (
        "open(p)\nopen(p, 'rb')\nq.read_text()\nq.open('w', encoding='utf-8')\n"
        "q.open()\nzip.open(info)\nq.open('a')\n"
    )
    assert _text_calls_without_encoding(ast.parse(source)) == [1, 3, 5, 7]


def test_no_named_temporary_file() -> None:
    users = [
        path.name
        for path in PACKAGE.rglob("*.py")
        if "NamedTemporaryFile" in path.read_text(encoding="utf-8")
    ]
    assert users == []
