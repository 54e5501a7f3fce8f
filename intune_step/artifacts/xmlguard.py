"""The guarded XML parser every artifact reader uses for untrusted documents.

Manifests, Detection.xml, xar TOCs, Distribution and PackageInfo files all come from the
artifact, so each is parsed with a size cap, no DTDs or entities, and bounded depth and
element count. One guard in one place beats a copy per reader.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from intune_step.errors import ArtifactError

MAX_XML_BYTES = 4 * 1024 * 1024
MAX_XML_DEPTH = 64
MAX_XML_ELEMENTS = 200_000


def parse_untrusted_xml(data: bytes, what: str, *, limit: int = MAX_XML_BYTES) -> ET.Element:
    """Parse ``data`` as XML, refusing oversized input, DTDs and deep or huge trees.

    ``what`` names the document for messages ("app.pkg: Distribution"). DOCTYPE and ENTITY
    declarations are refused outright: none of the formats read here needs them, and they
    are how entity-expansion bombs work. NULs are dropped before that check so a UTF-16
    document cannot hide a declaration.
    """
    if len(data) > limit:
        raise ArtifactError(
            f"{what} is {len(data)} bytes of XML, more than the {limit} allowed",
            fix="check that the artifact was produced by its usual tool",
        )
    visible = data.replace(b"\x00", b"")
    if b"<!DOCTYPE" in visible or b"<!ENTITY" in visible:
        raise ArtifactError(
            f"{what} declares a DOCTYPE or ENTITY, which is refused (entity expansion risk)",
            fix="rebuild the artifact with its usual tool; these documents never need a DTD",
        )
    return _pull_parse(data, what)


def _pull_parse(data: bytes, what: str) -> ET.Element:
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    root: ET.Element | None = None
    depth = count = 0
    try:
        for start in range(0, len(data), 65536):
            parser.feed(data[start : start + 65536])
            # Only start and end are asked for, so every event is (name, element); the pattern
            # narrows read_events' wider type, which also covers the namespace events.
            for event in parser.read_events():
                match event:
                    case ("start", ET.Element() as elem):
                        root = elem if root is None else root
                        depth += 1
                        count += 1
                        if depth > MAX_XML_DEPTH or count > MAX_XML_ELEMENTS:
                            raise ArtifactError(
                                f"{what} is nested deeper than {MAX_XML_DEPTH} levels or has "
                                f"more than {MAX_XML_ELEMENTS} elements",
                                fix="check that the artifact was produced by its usual tool",
                            )
                    case _:
                        depth -= 1
        parser.close()
    except (ET.ParseError, LookupError, ValueError) as exc:  # LookupError: unknown encoding
        raise ArtifactError(
            f"{what} is not well-formed XML ({exc})",
            fix="check that the artifact was produced by its usual tool",
        ) from exc
    if root is None:
        raise ArtifactError(f"{what} is empty", fix="check that the artifact is complete")
    return root


def local_name(tag: str) -> str:
    """``{namespace}Name`` -> ``Name``: the formats here vary their namespaces."""
    return tag.rsplit("}", 1)[-1]
