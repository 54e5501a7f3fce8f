"""Every protocol reference in the repository resolves inside it.

Comments, docstrings and Markdown cite the protocol notes by heading, as
``docs/protocol.md, "Assignments"`` (several: ``"Token request" and "Client assertions"``) or
as ``docs/protocol.md#assignments``. This fails on a cited heading or anchor the document does not
have, and on references to notes that live outside the repository: "spec" sections, bare
section signs, numbered pitfalls (docs/protocol.md names its pitfalls, it does not number
them), the research files' names and their folder.

The scanner is checked against known-bad and known-good text first, and the repository scan
must see a minimum of files and citations, so a scanner that finds nothing cannot pass by
accident.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = "docs/protocol.md"
SCANNED = ("intune_step", "tests", "bench", "scripts", "docs", "README.md")
SECTION = "\u00a7"  # spelled out so this file's own text does not trip the rules

CITATION = re.compile(r"docs/protocol\.md(?:,\s*|#)")
QUOTED_LIST = re.compile(r'"[^"\n]+"(?:\s*(?:,\s*and|,|;|and)\s*"[^"\n]+")*')
ANCHOR = re.compile(r"[\w-]+")
# A line break inside a comment or docstring: the next line's indentation and comment marker.
CONTINUATION = re.compile(r"[ \t]*\n[ \t]*(?:#+[ \t]+)?")
RULES = (
    (re.compile(r"\bspec\b\W{0,3}" + SECTION, re.I), "cites a spec section"),
    (re.compile(SECTION + r"\s*\d"), "cites a numbered section"),
    (re.compile(r"\bpitfalls?\s+(?:no\.?\s*)?\d+", re.I), "cites a pitfall by number"),
    (re.compile(r"intune-protocol\.md|(?<![\w/])artifacts\.md|ci-conventions\.md"),
     "names a research note outside the repository"),
    # The sibling folder's tools (scripts/container-smoke runs one) are programs, not notes.
    (re.compile(r"\.\./shared/(?!tools/)|\bshared/spec\b"),
     "points at the shared folder outside the repository"),
)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def headings(markdown: str) -> list[str]:
    """The ATX headings outside fenced code blocks, as written."""
    found, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = re.match(r"#{1,6}\s+(.+?)\s*#*\s*$", line)
        if match and not fenced:
            found.append(" ".join(match.group(1).split()))
    return found


def anchors(titles: list[str]) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for title in titles:
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def scan(text: str, titles: set[str], anchor_set: set[str]) -> Iterator[tuple[int, str]]:
    """(line, problem) for every bad reference in ``text``; the same rules for every file."""

    def line_of(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    for pattern, problem in RULES:
        for match in pattern.finditer(text):
            before = text[max(0, match.start() - 12):match.start()]
            if problem == "cites a numbered section" and re.search(r"RFC\s*\d+\s*$", before):
                continue  # an RFC's own section numbering is a public, stable reference
            yield line_of(match.start()), f"{problem}: {match.group(0)!r}"
    for match in CITATION.finditer(text):
        rest = CONTINUATION.sub(" ", text[match.end():match.end() + 300])
        if match.group(0).endswith("#"):
            anchor = ANCHOR.match(rest)
            name = anchor.group(0) if anchor else ""
            if name not in anchor_set:
                yield line_of(match.start()), f"cites {DOC}#{name}, which is no anchor there"
            continue
        cited = QUOTED_LIST.match(rest)
        if cited is None:
            yield line_of(match.start()), f"cites {DOC} without a quoted heading"
            continue
        for title in re.findall(r'"([^"]+)"', cited.group(0)):
            if " ".join(title.split()) not in titles:
                yield line_of(match.start()), f'cites {DOC}, "{title}", which is no heading there'


def scanned_files() -> Iterator[Path]:
    for name in SCANNED:
        root = REPO / name
        paths = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in paths:
            if path.is_file() and "__pycache__" not in path.parts:
                yield path


def document() -> tuple[set[str], set[str]]:
    titles = headings((REPO / DOC).read_text(encoding="utf-8"))
    return set(titles), anchors(titles)


def test_the_protocol_notes_have_unique_headings() -> None:
    titles = headings((REPO / DOC).read_text(encoding="utf-8"))
    assert len(titles) > 30
    duplicates = sorted({t for t in titles if titles.count(t) > 1})
    assert not duplicates, f"a citation by heading would be ambiguous: {duplicates}"
    assert len({slug(t) for t in titles}) == len(titles)


def test_the_scanner_flags_bad_references_and_passes_good_ones() -> None:
    titles, anchor_set = document()
    bad = [
        "# the effective limit (spec " + SECTION + "2.6)",
        "state machines (" + SECTION + "2.3-2.8)",
        "re-send it (pitf" + "all 12)",
        "see Pitf" + "all no. 4",
        "Per type (intune-" + "protocol.md 2.2)",
        "the spec (artifacts" + ".md 2)",
        "Behaviour follows `../shar" + "ed/spec/notes`",
        "lives in shared/sp" + "ec",
        f'the rule ({DOC}, "No such heading")',
        f'both ({DOC}, "Assignments" and "No such heading")',
        f"a link ({DOC}#no-such-anchor)",
        f"a bare citation {DOC}, with no heading",
    ]
    for text in bad:
        assert list(scan(text, titles, anchor_set)), f"not flagged: {text!r}"
    good = [
        f'POST /assign replaces the set ({DOC}, "Assignments")',
        f'defaults ({DOC}, "Win32\n    apps"): msiexec',
        f'    # Intune may refuse this\n    # ({DOC}, "400 after a\n    # large commit").',
        f'See {DOC}, "Token request" and "Client assertions".',
        f"[notes](../../{DOC}#commit-checks)",
        f"The notes: {DOC}. Nothing cited.",
        "RFC 6749 " + SECTION + "2.3.1: client_id:client_secret in HTTP Basic",
        "CHECK=${CONTAINER_CHECK:-../" + "shared/tools/container-check}",
        "rng = random.Random(seed)  # a random seed is not a reference",
    ]
    for text in good:
        assert not list(scan(text, titles, anchor_set)), f"flagged: {text!r}"


def test_every_reference_resolves_inside_the_repository() -> None:
    titles, anchor_set = document()
    problems, files, citations = [], 0, 0
    for path in scanned_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary fixtures
        files += 1
        citations += len(CITATION.findall(text))
        problems += [f"{path.relative_to(REPO)}:{line}: {problem}"
                     for line, problem in scan(text, titles, anchor_set)]
    assert files > 200 and citations > 40, (files, citations)  # the scan really ran
    assert not problems, "\n".join(problems)
