"""A small OData ``$filter`` parser: what Intune tools actually send.

See docs/protocol.md, "Finding an existing app".

Supported: ``eq ne gt ge lt le``, ``and or not``, parentheses, ``isof('type')``,
``contains/startswith/endswith(x, 'y')``, ``tolower/toupper(x)``, string/number/bool/null
literals and (cast-qualified) property paths. Anything else is a 400, as on the live service.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Entity = dict[str, Any]
Node = Callable[[Entity], Any]


class FilterError(ValueError):
    """The filter cannot be parsed or names a property the collection does not filter on."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^']|'')*')
      | (?P<date>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<punct>[(),])
      | (?P<name>[A-Za-z_$][\w.$]*(?:/[A-Za-z_$][\w.$]*)*)
    )""",
    re.VERBOSE,
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and b is not None and a > b,
    "ge": lambda a, b: a is not None and b is not None and a >= b,
    "lt": lambda a, b: a is not None and b is not None and a < b,
    "le": lambda a, b: a is not None and b is not None and a <= b,
}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterError(f"Syntax error at position {pos} in '{text}'.")
        kind = match.lastgroup or ""
        tokens.append(_Tok(kind, match.group(kind)))
        pos = match.end()
    return tokens


@dataclass(frozen=True)
class Schema:
    """What a collection allows: a property check, a value lookup and a type test."""

    has_property: Callable[[str], bool]
    lookup: Callable[[Entity, str], Any]
    is_of: Callable[[Entity, str], bool]


class _Parser:
    def __init__(self, text: str, schema: Schema) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.schema = schema
        self.text = text

    def peek(self) -> _Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise FilterError(f"Unexpected end of filter '{self.text}'.")
        self.pos += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text:
            raise FilterError(f"Expected '{text}' but found '{tok.text}'.")

    def keyword(self, *words: str) -> str | None:
        tok = self.peek()
        if tok is not None and tok.kind == "name" and tok.text in words:
            self.pos += 1
            return tok.text
        return None

    def parse(self) -> Node:
        node = self.or_expr()
        if (extra := self.peek()) is not None:
            raise FilterError(f"Syntax error: unexpected '{extra.text}'.")
        return node

    def or_expr(self) -> Node:
        left = self.and_expr()
        while self.keyword("or"):
            right = self.and_expr()
            left = (lambda a, b: lambda e: bool(a(e)) or bool(b(e)))(left, right)
        return left

    def and_expr(self) -> Node:
        left = self.not_expr()
        while self.keyword("and"):
            right = self.not_expr()
            left = (lambda a, b: lambda e: bool(a(e)) and bool(b(e)))(left, right)
        return left

    def not_expr(self) -> Node:
        if self.keyword("not"):
            inner = self.not_expr()
            return lambda e: not inner(e)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        op = self.keyword(*_COMPARE)
        if op is None:
            return left
        right = self.operand()
        compare = _COMPARE[op]

        def node(entity: Entity) -> bool:
            try:
                return bool(compare(left(entity), right(entity)))
            except TypeError:
                return False

        return node

    def operand(self) -> Node:
        tok = self.take()
        if tok.text == "(":
            inner = self.or_expr()
            self.expect(")")
            return inner
        if tok.kind == "str":
            value = tok.text[1:-1].replace("''", "'")
            return lambda e: value
        if tok.kind == "num":
            number = float(tok.text) if "." in tok.text else int(tok.text)
            return lambda e: number
        if tok.kind == "date":
            return lambda e: tok.text
        if tok.kind != "name":
            raise FilterError(f"Syntax error: unexpected '{tok.text}'.")
        literal = {"true": True, "false": False, "null": None}
        if tok.text in literal:
            constant = literal[tok.text]
            return lambda e: constant
        nxt = self.peek()
        if nxt is not None and nxt.text == "(":
            return self.function(tok.text)
        return self.property(tok.text)

    def property(self, path: str) -> Node:
        if not self.schema.has_property(path):
            name = path.rsplit("/", 1)[-1]
            raise FilterError(
                f"Could not find a property named '{name}' on type 'microsoft.graph.mobileApp'."
            )
        lookup = self.schema.lookup
        return lambda e: lookup(e, path)

    def arguments(self) -> list[Node]:
        self.expect("(")
        args: list[Node] = []
        while True:
            tok = self.peek()
            if tok is not None and tok.text == ")":
                self.take()
                return args
            args.append(self.operand())
            tok = self.take()
            if tok.text == ")":
                return args
            if tok.text != ",":
                raise FilterError(f"Expected ',' or ')' but found '{tok.text}'.")

    def function(self, name: str) -> Node:
        lowered = name.lower()
        if lowered == "isof":
            self.expect("(")
            tok = self.take()
            self.expect(")")
            type_name = tok.text.strip("'") if tok.kind in ("str", "name") else ""
            is_of = self.schema.is_of
            return lambda e: is_of(e, type_name)
        args = self.arguments()
        if lowered in ("tolower", "toupper", "trim") and len(args) == 1:
            (arg,) = args
            methods: dict[str, Callable[[str], str]] = {
                "tolower": str.lower, "toupper": str.upper, "trim": str.strip}
            method = methods[lowered]
            return lambda e: method(v) if isinstance(v := arg(e), str) else v
        if lowered in ("contains", "startswith", "endswith") and len(args) == 2:
            hay, needle = args
            tests: dict[str, Callable[[str, str], bool]] = {
                "contains": lambda h, n: n in h,
                "startswith": str.startswith,
                "endswith": str.endswith,
            }
            test = tests[lowered]

            def node(entity: Entity) -> bool:
                h, n = hay(entity), needle(entity)
                return isinstance(h, str) and isinstance(n, str) and bool(test(h, n))

            return node
        raise FilterError(f"The function '{name}' is not supported with {len(args)} arguments.")


def compile_filter(text: str, schema: Schema) -> Node:
    """Parse ``text`` once; the result tests one entity. Raises FilterError."""
    return _Parser(text, schema).parse()
