"""Read an iOS provisioning profile (``embedded.mobileprovision``) without OpenSSL.

The profile is a CMS SignedData (RFC 5652) carrying an XML plist inline. A small DER walker
reaches it: ContentInfo -> [0] -> SignedData -> encapContentInfo -> [0] -> OCTET STRING. It
also accepts BER indefinite lengths and constructed (chunked) OCTET STRINGs, which a profile
re-encoded by other tools may use. Apple's signature is not verified: Intune needs only the
ExpirationDate (docs/protocol.md, "iOS packages and provisioning profiles").
"""

from __future__ import annotations

import plistlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from intune_step.errors import ArtifactError

SIGNED_DATA_OID = bytes.fromhex("2a864886f70d010702")  # 1.2.840.113549.1.7.2
MAX_PROFILE_BYTES = 4 * 1024 * 1024  # real profiles are tens of KB
MAX_NESTING = 32  # bounds recursion on hostile BER

SEQUENCE = 0x30
OID = 0x06
OCTET_STRING = 0x04
OCTET_STRING_CONSTRUCTED = 0x24
CONTEXT_0 = 0xA0
CONSTRUCTED = 0x20


class ProfileError(ArtifactError):
    """The provisioning profile cannot be decoded."""


@dataclass(frozen=True)
class ProvisioningProfile:
    expiration: datetime  # timezone-aware, UTC
    name: str | None = None
    team_name: str | None = None
    team_id: str | None = None
    app_id_name: str | None = None


@dataclass(frozen=True)
class _Tlv:
    tag: int  # the identifier octet (CMS uses only low tag numbers)
    start: int  # first content byte
    end: int  # one past the last content byte
    next: int  # where the following element starts


def load_plist(data: bytes, what: str) -> dict[str, Any]:
    """A plist dict from XML or binary bytes; any decoding failure becomes an ArtifactError."""
    try:
        value = plistlib.loads(data)
    # plistlib raises many types on hostile input (expat, struct, overflow, recursion...)
    except Exception as exc:
        raise ArtifactError(f"{what} is not a readable property list ({exc})") from exc
    if not isinstance(value, dict):
        raise ArtifactError(f"{what} is a property list but not a dictionary")
    return value


def _tlv(der: bytes, pos: int, limit: int, depth: int) -> _Tlv:
    if depth > MAX_NESTING:
        raise ProfileError("provisioning profile nests too deeply")
    if pos + 2 > limit:
        raise ProfileError(f"provisioning profile is truncated at offset {pos}")
    tag, first = der[pos], der[pos + 1]
    if tag & 0x1F == 0x1F:
        raise ProfileError(f"unexpected high-number tag at offset {pos}")
    pos += 2
    if first == 0x80:  # BER indefinite length: children up to an end-of-contents 00 00
        if not tag & CONSTRUCTED:
            raise ProfileError(f"indefinite length on a primitive element at offset {pos}")
        cursor = pos
        while not (cursor + 2 <= limit and der[cursor] == 0 and der[cursor + 1] == 0):
            cursor = _tlv(der, cursor, limit, depth + 1).next
        return _Tlv(tag, pos, cursor, cursor + 2)
    length = first
    if first > 0x80:
        count = first & 0x7F
        if count > 4 or pos + count > limit:
            raise ProfileError(f"invalid length at offset {pos}")
        length = int.from_bytes(der[pos : pos + count], "big")
        pos += count
    if pos + length > limit:
        raise ProfileError(f"element at offset {pos} runs past its container")
    return _Tlv(tag, pos, pos + length, pos + length)


def _children(der: bytes, parent: _Tlv, depth: int) -> list[_Tlv]:
    children = []
    cursor = parent.start
    while cursor < parent.end:
        child = _tlv(der, cursor, parent.end, depth + 1)
        children.append(child)
        cursor = child.next
    return children


def _expect(children: list[_Tlv], index: int, tag: int, what: str) -> _Tlv:
    if index >= len(children) or children[index].tag != tag:
        raise ProfileError(f"provisioning profile is not CMS SignedData ({what} missing)")
    return children[index]


def _octets(der: bytes, node: _Tlv, depth: int) -> bytes:
    if node.tag == OCTET_STRING:
        return der[node.start : node.end]
    if node.tag == OCTET_STRING_CONSTRUCTED:  # BER chunks: concatenate them in order
        return b"".join(_octets(der, c, depth + 1) for c in _children(der, node, depth))
    raise ProfileError("provisioning profile content is not an OCTET STRING")


def signed_content(der: bytes) -> bytes:
    """The encapsulated content (eContent) of a CMS SignedData."""
    if len(der) > MAX_PROFILE_BYTES:
        raise ProfileError(f"provisioning profile is {len(der)} bytes, more than allowed")
    root = _tlv(der, 0, len(der), 0)
    if root.tag != SEQUENCE:
        raise ProfileError("provisioning profile is not DER (no ContentInfo SEQUENCE)")
    info = _children(der, root, 0)
    oid = _expect(info, 0, OID, "contentType")
    if der[oid.start : oid.end] != SIGNED_DATA_OID:
        raise ProfileError("provisioning profile is CMS but not SignedData")
    explicit = _expect(info, 1, CONTEXT_0, "content")
    signed = _expect(_children(der, explicit, 1), 0, SEQUENCE, "SignedData")
    # SignedData: version, digestAlgorithms, encapContentInfo, ...
    encap = _expect(_children(der, signed, 2), 2, SEQUENCE, "encapContentInfo")
    encap_children = _children(der, encap, 3)
    _expect(encap_children, 0, OID, "eContentType")
    if len(encap_children) < 2:
        raise ProfileError("provisioning profile is detached (it carries no content)")
    wrapper = _expect(encap_children, 1, CONTEXT_0, "eContent")
    content = _children(der, wrapper, 4)
    if not content:
        raise ProfileError("provisioning profile has an empty eContent")
    return _octets(der, content[0], 5)


def _utc(value: datetime) -> datetime:
    # plistlib returns naive datetimes that are UTC
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def read_profile(der: bytes) -> ProvisioningProfile:
    """The facts Intune needs from an ``embedded.mobileprovision``."""
    plist = load_plist(signed_content(der), "the provisioning profile's content")
    expiration = plist.get("ExpirationDate")
    if not isinstance(expiration, datetime):
        raise ProfileError("provisioning profile has no ExpirationDate")
    teams = plist.get("TeamIdentifier")
    return ProvisioningProfile(
        expiration=_utc(expiration),
        name=_text(plist.get("Name")),
        team_name=_text(plist.get("TeamName")),
        team_id=_text(teams[0]) if isinstance(teams, list) and teams else None,
        app_id_name=_text(plist.get("AppIDName")),
    )
