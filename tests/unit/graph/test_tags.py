"""The notes tags: the user's notes are kept, our tags replaced and never duplicated."""

from __future__ import annotations

from datetime import UTC, datetime

from intune_step.graph.tags import (
    ContentTag,
    LockTag,
    compose,
    content_tag,
    lock_tag,
    same_identity,
    user_notes,
    with_lock,
)

WHEN = datetime(2026, 5, 1, 12, 30, 5, tzinfo=UTC)


def test_compose_appends_after_the_users_notes_and_replaces_its_own_tag() -> None:
    first = compose("Owned by the mobile team.\nCall Ann.", ContentTag("iosLobApp", "com.a.b"))
    assert first == "Owned by the mobile team.\nCall Ann.\n[intune-step:iosLobApp:com.a.b]"
    second = compose(first, ContentTag("iosLobApp", "com.a.b", "3", "ab" * 32))
    assert second == ("Owned by the mobile team.\nCall Ann.\n"
                      f"[intune-step:iosLobApp:com.a.b:cv=3:sha256={'ab' * 32}]")
    assert compose(second, ContentTag("iosLobApp", "com.a.b", "3", "ab" * 32)) == second
    assert second.count("[intune-step") == 1


def test_empty_notes_get_only_the_tag() -> None:
    assert compose(None, ContentTag("androidLobApp", "x.y")) == "[intune-step:androidLobApp:x.y]"
    assert compose("", ContentTag("androidLobApp", "x.y")) == "[intune-step:androidLobApp:x.y]"


def test_identities_with_separators_round_trip() -> None:
    tag = ContentTag("win32LobApp", "My App: [beta] 2", "12", "0" * 64)
    parsed = content_tag("notes " + tag.render())
    assert parsed == tag
    assert ":" not in tag.render().split(":", 2)[2].split(":cv=")[0]  # encoded, one field


def test_content_tag_reads_only_complete_tags() -> None:
    assert content_tag(None) is None
    assert content_tag("nothing here") is None
    assert content_tag("[intune-step:iosLobApp]") is None  # no identity
    tag = content_tag("[intune-step:iosLobApp:com.a.b]")
    assert tag == ContentTag("iosLobApp", "com.a.b") and tag.sha256 is None


def test_lock_tag_set_refreshed_and_removed_without_touching_the_rest() -> None:
    notes = compose("Mine", ContentTag("iosLobApp", "com.a.b", "1", "c" * 64))
    locked = with_lock(notes, LockTag("ci-7 run", WHEN))
    assert locked.startswith("Mine\n[intune-step:iosLobApp:com.a.b:cv=1:")
    assert locked.endswith("[intune-step-lock:ci-7%20run:20260501T123005Z]")
    assert lock_tag(locked) == LockTag("ci-7 run", WHEN)
    relocked = with_lock(locked, LockTag("other", WHEN))
    assert relocked.count("intune-step-lock") == 1 and lock_tag(relocked).run_id == "other"
    assert with_lock(relocked, None) == notes
    assert content_tag(relocked) == content_tag(notes)
    assert with_lock("just text", None) == "just text"


def test_user_notes_drop_every_tag_of_ours() -> None:
    notes = "Keep me\n[intune-step:iosLobApp:a][intune-step-lock:r:20260501T123005Z]"
    assert user_notes(notes) == "Keep me"
    assert user_notes("[not ours] text") == "[not ours] text"


def test_identity_comparison() -> None:
    assert same_identity("com.Contoso.App", "com.contoso.app")
    assert same_identity("{ABCDEF01-0000-0000-0000-000000000000}",
                         "abcdef01-0000-0000-0000-000000000000")
    assert not same_identity("com.contoso.app", "com.contoso.app2")


def test_ring_marks_belong_to_one_build_and_survive_tag_rewrites() -> None:
    from intune_step.graph.tags import rings_reached, with_ring

    when = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    tag = ContentTag("iosLobApp", "com.contoso.app", "3", "ab" * 32)
    notes = with_ring(compose("Mine", tag), "pilot", "3", when)
    notes = with_ring(notes, "broad", "3", when)
    assert rings_reached(notes, "3") == ["pilot", "broad"]
    assert with_ring(notes, "pilot", "3", when) == notes  # recorded once
    assert rings_reached(compose(notes, tag), "3") == ["pilot", "broad"]  # kept by rewrites
    assert user_notes(notes) == "Mine"
    assert rings_reached(notes, "4") == []  # a new build starts over
    newer = with_ring(notes, "pilot", "4", when)
    assert rings_reached(newer, "4") == ["pilot"] and "ring:broad" not in newer
