"""The tags intune-step keeps in an app's ``notes``: what it published, and who is publishing.

Graph has no free-form property for tools, and ``notes`` is the one base property the service
lets us filter and read cheaply on every app (WinTuner keeps ``[WinTuner|…]`` there too). Two
tags, each appended after the user's own notes and replaced, never duplicated:

- ``[intune-step:<type>:<identity>]`` when the app is created, and
  ``[intune-step:<type>:<identity>:cv=<n>:sha256=<hex>]`` once a content version is committed.
  The committed-content tag is written in the same PATCH as ``committedContentVersion``, so it
  never claims content that is not committed.
- ``[intune-step-lock:<run>:<utc>]`` while a run is publishing (see lock.py).
- Marks, kept as they are by every rewrite of the tags: ``[intune-step-rollback:<utc>:to=<id>]``
  on a version whose assignments a rollback moved back to an earlier version, and
  ``[intune-step-ring:<ring>:cv=<n>:<utc>]`` for each ring the build (content version n) has
  reached; marks of an earlier build's rings are dropped when a new one is recorded.

Identity and run ids are percent-encoded so ``:`` ``[`` ``]`` and spaces cannot break a tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

SAFE = "._-{}@"
_CONTENT = re.compile(r"\[intune-step:([^\]\[:\s]+):([^\]\[:\s]+)((?::[a-z0-9]+=[^\]\[:\s]*)*)\]")
_LOCK = re.compile(r"\[intune-step-lock:([^\]\[:\s]+):(\d{8}T\d{6}Z)\]")
_ANY = re.compile(r"\s*\[intune-step(?:-[a-z]+)?:[^\]\[]*\]")
_MARK = re.compile(r"\[intune-step-(?!lock:)[a-z]+:[^\]\[\s]*\]")
TIME_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class ContentTag:
    app_type: str
    identity: str
    content_version: str | None = None
    sha256: str | None = None

    def render(self) -> str:
        text = f"[intune-step:{self.app_type}:{quote(self.identity, safe=SAFE)}"
        if self.content_version and self.sha256:
            text += f":cv={quote(self.content_version, safe=SAFE)}:sha256={self.sha256}"
        return text + "]"

    def matches(self, app_type: str, identity: str) -> bool:
        return (self.app_type.lower() == app_type.lower()
                and same_identity(self.identity, identity))


@dataclass(frozen=True)
class LockTag:
    run_id: str
    since: datetime

    def render(self) -> str:
        stamp = self.since.strftime(TIME_FORMAT)
        return f"[intune-step-lock:{quote(self.run_id, safe=SAFE)}:{stamp}]"


def same_identity(a: str, b: str) -> bool:
    """Bundle ids, package ids and product codes compare case-blind; braces on GUIDs optional."""
    return _norm(a) == _norm(b)


def _norm(value: str) -> str:
    text = value.strip().casefold()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    return text


def content_tag(notes: str | None) -> ContentTag | None:
    """The last content tag in ``notes`` (there should be one), or None."""
    found = None
    for match in _CONTENT.finditer(notes or ""):
        fields = dict(part.split("=", 1) for part in match.group(3).split(":") if "=" in part)
        found = ContentTag(
            app_type=match.group(1),
            identity=unquote(match.group(2)),
            content_version=unquote(fields["cv"]) if fields.get("cv") else None,
            sha256=fields.get("sha256") or None,
        )
    return found


def lock_tag(notes: str | None) -> LockTag | None:
    match = None
    for match in _LOCK.finditer(notes or ""):  # noqa: B007 - the last one wins
        pass
    if match is None:
        return None
    since = datetime.strptime(match.group(2), TIME_FORMAT).replace(tzinfo=UTC)
    return LockTag(unquote(match.group(1)), since)


def user_notes(notes: str | None) -> str:
    """The notes without any of our tags: what the user wrote."""
    return _ANY.sub("", notes or "").rstrip()


def marks(notes: str | None) -> str:
    """Our marks in ``notes`` (rollback records), in order, as one string."""
    return "".join(m.group(0) for m in _MARK.finditer(notes or ""))


def rollback_mark(to_app: str, when: datetime) -> str:
    return f"[intune-step-rollback:{when.strftime(TIME_FORMAT)}:to={quote(to_app, safe=SAFE)}]"


def with_mark(notes: str | None, mark: str) -> str:
    """``notes`` with ``mark`` added after our other tags (once)."""
    text = notes or ""
    if mark in text:
        return text
    return f"{text}{mark}" if _ANY.search(text) or not text else f"{text}\n{mark}"


def compose(notes: str | None, content: ContentTag, lock: LockTag | None = None) -> str:
    """The user's notes, then our tags: replacing ours, keeping theirs."""
    tags = content.render() + (lock.render() if lock else "") + marks(notes)
    own = user_notes(notes)
    return f"{own}\n{tags}" if own else tags


def with_lock(notes: str | None, lock: LockTag | None) -> str:
    """``notes`` with its lock tag set to ``lock`` (or removed), all else unchanged."""
    content = content_tag(notes)
    own = user_notes(notes)
    tags = ((content.render() if content else "") + (lock.render() if lock else "")
            + marks(notes))
    if not tags:
        return own
    return f"{own}\n{tags}" if own else tags


_RING = re.compile(r"\[intune-step-ring:([^\]\[:\s]+):cv=([^\]\[:\s]*):(\d{8}T\d{6}Z)\]")


def rings_reached(notes: str | None, content_version: str | None) -> list[str]:
    """The rings the build with ``content_version`` has reached, in the order recorded."""
    found: list[str] = []
    for match in _RING.finditer(notes or ""):
        name = unquote(match.group(1))
        if unquote(match.group(2)) == str(content_version or "") and name not in found:
            found.append(name)
    return found


def with_ring(notes: str | None, ring: str, content_version: str | None, when: datetime) -> str:
    """``notes`` recording ``ring`` for this build; earlier builds' ring marks are dropped."""
    text = notes or ""
    if ring in rings_reached(text, content_version):
        return text
    cv = str(content_version or "")
    text = _RING.sub(lambda m: m.group(0) if unquote(m.group(2)) == cv else "", text)
    mark = (f"[intune-step-ring:{quote(ring, safe=SAFE)}:cv={quote(cv, safe=SAFE)}:"
            f"{when.strftime(TIME_FORMAT)}]")
    return with_mark(text, mark)
