"""The service's timing mode (emulator/timing.py): each asynchronous state completes after a
delay, not after a number of reads, and the emulator records how late a client saw it.

Microsoft's upload sequence says each state is asynchronous and must be polled until it
changes ("Upload sequence" in docs/protocol.md; learn.microsoft.com, "Graph API: Intune
line-of-business app upload", the azureStorageUriRequestPending/commitFilePending states).
"""

from __future__ import annotations

import random
import statistics
import time

import pytest

from intune_step.crypto import encrypt_bytes
from intune_step.emulator import Delay, Emulator, EmulatorConfig, StateTiming
from intune_step.emulator.sandbox import parse_args

from .helpers import Api, ios_body

PLAIN = b"timing" * 500
FIXED = StateTiming(
    upload_uri=Delay("fixed", 0.4), commit=Delay("fixed", 0.4), publish=Delay("fixed", 0.4)
)


def _file(api: Api, path: str) -> dict:
    return api.ok("GET", path)


def _start(api: Api) -> tuple[str, str, str]:
    app_id = api.create_app(ios_body())["id"]
    base = f"deviceAppManagement/mobileApps/{app_id}/microsoft.graph.iosLobApp/contentVersions"
    version = api.ok("POST", base, {}, 201)["id"]
    blob, _ = encrypt_bytes(PLAIN)
    body = {
        "@odata.type": "#microsoft.graph.mobileAppContentFile",
        "name": "a.ipa",
        "size": len(PLAIN),
        "sizeEncrypted": len(blob),
        "manifest": None,
        "isDependency": False,
    }
    entity = api.ok("POST", f"{base}/{version}/files", body, 201)
    return app_id, version, f"{base}/{version}/files/{entity['id']}"


@pytest.mark.emu(timing=FIXED, upload_uri_pending_polls=0)
def test_a_state_stays_pending_until_its_delay_has_passed_however_often_it_is_read(
    api: Api,
) -> None:
    _, _, path = _start(api)
    started = time.monotonic()
    states = []
    while time.monotonic() - started < 0.3:  # many reads, all before the delay
        states.append(_file(api, path)["uploadState"])
        time.sleep(0.02)
    assert len(states) > 3 and set(states) == {"azureStorageUriRequestPending"}
    time.sleep(0.15)
    assert _file(api, path)["uploadState"] == "azureStorageUriRequestSuccess"


@pytest.mark.emu(timing=StateTiming.at_once(), upload_uri_pending_polls=5, publish_pending_polls=5)
def test_at_once_every_state_is_done_by_the_first_read_whatever_the_poll_counts(
    emu: Emulator, api: Api
) -> None:
    plain = b"x" * 3000
    upload = api.start_upload(*_blob_and_size(plain))
    assert upload.entity["uploadState"] == "azureStorageUriRequestSuccess"
    path = f"deviceAppManagement/mobileApps/{upload.app_id}"
    blob, info = encrypt_bytes(plain)
    ids = api.upload_blocks(upload.entity["azureStorageUri"], blob)
    assert api.put_block_list(upload.entity["azureStorageUri"], ids).status_code == 201
    assert api.commit(upload, info).status_code == 200
    api.wait(upload.file_path, "commitFileSuccess")  # the check of the blob still takes a moment
    body = {
        "@odata.type": "#microsoft.graph.iosLobApp",
        "committedContentVersion": upload.version_id,
    }
    assert api.call("PATCH", path, body).status_code == 204
    assert api.ok("GET", path)["publishingState"] == "published"  # the first read
    seen = {record.state for record in emu.lateness()}
    assert seen == {"upload_uri", "commit", "publish"}
    assert all(record.delay == 0 for record in emu.lateness())


def _blob_and_size(plain: bytes) -> tuple[bytes, int]:
    blob, _ = encrypt_bytes(plain)
    return blob, len(plain)


@pytest.mark.emu(timing=FIXED)
def test_lateness_is_the_time_from_completing_to_the_first_read_that_shows_it(
    emu: Emulator, api: Api
) -> None:
    _, _, path = _start(api)
    time.sleep(0.4 + 0.3)  # completes at 0.4 s, read 0.3 s after
    assert _file(api, path)["uploadState"] == "azureStorageUriRequestSuccess"
    _file(api, path)  # later reads are not lateness
    [record] = emu.lateness()
    assert record.state == "upload_uri" and record.delay == 0.4
    assert 0.25 <= record.late <= 1.0


@pytest.mark.emu(timing=StateTiming(commit=Delay("fixed", 0.3)))
def test_a_commit_completes_after_its_delay_and_after_the_blob_was_checked(
    emu: Emulator, api: Api
) -> None:
    blob, info = encrypt_bytes(PLAIN)
    upload = api.start_upload(blob, len(PLAIN))
    ids = api.upload_blocks(upload.entity["azureStorageUri"], blob)
    assert api.put_block_list(upload.entity["azureStorageUri"], ids).status_code == 201
    committed = time.monotonic()
    assert api.commit(upload, info).status_code == 200
    assert _file(api, upload.file_path)["uploadState"] == "commitFilePending"
    done = api.wait(upload.file_path, "commitFileSuccess", tries=100)
    assert done["isCommitted"] is True and time.monotonic() - committed >= 0.3
    assert [r.state for r in emu.lateness()] == ["upload_uri", "commit"]


@pytest.mark.emu(timing=StateTiming(publish=Delay("fixed", 0.3)), publish_pending_polls=0)
def test_publishing_takes_its_delay(api: Api) -> None:
    blob, info = encrypt_bytes(PLAIN)
    upload = api.start_upload(blob, len(PLAIN))
    ids = api.upload_blocks(upload.entity["azureStorageUri"], blob)
    api.put_block_list(upload.entity["azureStorageUri"], ids)
    api.commit(upload, info)
    api.wait(upload.file_path, "commitFileSuccess")
    path = f"deviceAppManagement/mobileApps/{upload.app_id}"
    body = {
        "@odata.type": "#microsoft.graph.iosLobApp",
        "committedContentVersion": upload.version_id,
    }
    assert api.call("PATCH", path, body).status_code == 204
    assert api.ok("GET", path)["publishingState"] == "processing"
    time.sleep(0.35)
    assert api.ok("GET", path)["publishingState"] == "published"


def test_without_timing_nothing_is_recorded_and_reads_count() -> None:
    with Emulator(EmulatorConfig()) as emu:
        assert emu.lateness() == []
        assert emu.config.timing is None


def test_delays_follow_their_distribution_and_repeat_with_a_seed() -> None:
    rng = random.Random(1)
    assert Delay("fixed", 1.5).draw(rng) == 1.5
    uniform = [Delay("uniform", 1, 3).draw(rng) for _ in range(200)]
    assert min(uniform) >= 1 and max(uniform) <= 3
    lognormal = [Delay("lognormal", 2.0, 0.5).draw(rng) for _ in range(2000)]
    assert 1.8 < statistics.median(lognormal) < 2.2 and max(lognormal) <= 40
    assert Delay("lognormal", 0, 0.5).draw(rng) == 0
    first = [Delay("lognormal", 2, 0.5).draw(random.Random(7)) for _ in range(3)]
    again = [Delay("lognormal", 2, 0.5).draw(random.Random(7)) for _ in range(3)]
    assert first == again


@pytest.mark.parametrize("bad", [("normal", 1, 1), ("fixed", -1, 0), ("uniform", 3, 1)])
def test_a_bad_delay_is_refused(bad: tuple) -> None:
    with pytest.raises(ValueError):
        Delay(*bad)


def test_timings_parse_from_text() -> None:
    assert StateTiming.parse("at-once") == StateTiming()
    assert StateTiming.parse("realistic") == StateTiming.realistic()
    parsed = StateTiming.parse("upload_uri=lognormal:2,0.5,commit=uniform:1,4,publish=2")
    assert parsed.upload_uri == Delay("lognormal", 2, 0.5)
    assert parsed.commit == Delay("uniform", 1, 4) and parsed.publish == Delay("fixed", 2)
    assert parsed.renew == Delay()
    for bad in ("commit=gauss:1,2", "upload=1", "commit=uniform:1"):
        with pytest.raises(ValueError):
            StateTiming.parse(bad)


def test_the_sandbox_takes_a_timing_flag() -> None:
    assert parse_args(["--timing", "realistic"]).timing == StateTiming.realistic()
    assert parse_args([]).timing is None
    with pytest.raises(SystemExit):
        parse_args(["--timing", "commit=sometimes"])
