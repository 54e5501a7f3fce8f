"""DELETE of a content version (Graph "Delete mobileAppContent"), used to clean up what a dead
run left: an uncommitted version goes with its files and blob; the committed one is refused."""

from __future__ import annotations

import time

from intune_step.emulator import Emulator

from .helpers import Api

BASE = "deviceAppManagement/mobileApps/{app}/microsoft.graph.iosLobApp/contentVersions"


def _version_ids(api: Api, app_id: str) -> list[str]:
    return [v["id"] for v in api.ok("GET", BASE.format(app=app_id))["value"]]


def test_delete_an_uncommitted_version_and_its_blob(emu: Emulator, api: Api) -> None:
    published = api.full_upload(b"first build " * 100)
    dangling = api.start_upload(b"x" * 64, 48, app_id=published.app_id)  # never committed
    blob_keys = [f for f in emu.files(published.app_id) if f["contentVersion"] == "2"]
    assert blob_keys and _version_ids(api, published.app_id) == ["1", "2"]

    response = api.call("DELETE", f"{BASE.format(app=published.app_id)}/{dangling.version_id}")
    assert response.status_code == 204, response.text
    assert _version_ids(api, published.app_id) == ["1"]
    assert api.call("GET", dangling.file_path).status_code == 404
    assert [f["contentVersion"] for f in emu.files(published.app_id)] == ["1"]
    # The upload URL of the deleted file no longer takes blocks.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if api.put_block(dangling.entity["azureStorageUri"], "MDAwMA==", b"x").status_code != 201:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the deleted version's blob still accepts blocks")
    # The committed content is untouched, and the next version id is still new.
    assert emu.committed_content(published.app_id) == b"first build " * 100
    again = api.ok("POST", BASE.format(app=published.app_id), {}, 201)
    assert again["id"] == "3"


def test_the_committed_version_cannot_be_deleted(emu: Emulator, api: Api) -> None:
    published = api.full_upload(b"content")
    response = api.call("DELETE", f"{BASE.format(app=published.app_id)}/1")
    assert response.status_code == 400
    assert "committed content version" in response.text
    assert _version_ids(api, published.app_id) == ["1"]


def test_unknown_version_is_404(emu: Emulator, api: Api) -> None:
    app_id = api.create_app()["id"]
    assert api.call("DELETE", f"{BASE.format(app=app_id)}/7").status_code == 404
