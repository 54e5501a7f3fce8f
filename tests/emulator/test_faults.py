"""Injected faults: canned statuses, Retry-After only when asked, dropped connections."""

from __future__ import annotations

import json
import shlex
import ssl
import threading

import httpx
import pytest

from intune_step.crypto import encrypt_bytes
from intune_step.emulator import Emulator, Fault
from intune_step.emulator.sandbox import parse_args, run_sandbox

from .helpers import Api

APPS = "deviceAppManagement/mobileApps"


def test_graph_429_with_and_without_retry_after(emu: Emulator, api: Api) -> None:
    emu.faults.add(Fault("graph", "GET", r"/mobileApps$", status=429, headers={"Retry-After": "2"}))
    emu.faults.add(Fault("graph", "GET", r"/mobileApps$", status=429))
    first = api.call("GET", APPS)
    assert first.status_code == 429 and first.headers["Retry-After"] == "2"
    assert first.json()["error"]["code"] == "TooManyRequests"
    second = api.call("GET", APPS)
    assert second.status_code == 429 and "Retry-After" not in second.headers
    assert api.call("GET", APPS).status_code == 200
    assert [r.status for r in emu.request_log if r.service == "graph"] == [429, 429, 200]


def test_after_and_times_and_custom_body(emu: Emulator, api: Api) -> None:
    emu.faults.add(
        Fault("graph", "*", r"mobileApps", status=503, after=1, times=2, body={"error": "x"})
    )
    statuses = [api.call("GET", APPS).status_code for _ in range(4)]
    assert statuses == [200, 503, 503, 200]
    assert len(emu.faults) == 0


def test_drop_connection_on_third_blob_put(emu: Emulator, api: Api) -> None:
    blob, _ = encrypt_bytes(b"z" * 5000)
    uri = api.start_upload(blob, 5000).entity["azureStorageUri"]
    emu.faults.add(Fault("blob", "PUT", r"comp=block&", after=2, drop_connection=True))
    assert api.put_block(uri, "MDAwMA==", blob[:1000]).status_code == 201
    assert api.put_block(uri, "MDAwMQ==", blob[1000:2000]).status_code == 201
    with pytest.raises(httpx.TransportError):
        api.put_block(uri, "MDAwMg==", blob[2000:3000])
    assert api.put_block(uri, "MDAwMg==", blob[2000:3000]).status_code == 201  # retry works
    blob_log = [r.status for r in emu.request_log if r.service == "blob"]
    assert blob_log == [201, 201, 0, 201]


def test_never_answer_holds_the_request_until_the_client_gives_up(
    emu: Emulator, api: Api
) -> None:
    assert api.token  # sign in first: only the Graph read is held
    emu.faults.add(Fault("graph", "GET", r"/mobileApps$", never_answer=True))
    with pytest.raises(httpx.ReadTimeout):
        api.call("GET", APPS, timeout=0.5)
    assert [(r.path.rsplit("/", 1)[-1], r.status) for r in emu.request_log
            if r.service == "graph"] == [("mobileApps", 0)]
    assert len(emu.faults) == 0  # fired once; the next request is served again
    assert api.call("GET", APPS).status_code == 200


def test_blob_and_login_faults_have_service_shapes(emu: Emulator, api: Api) -> None:
    emu.faults.add(Fault("login", "POST", r"/token$", status=503))
    failed = api.token_response()
    assert failed.status_code == 503 and failed.json()["error_codes"]
    blob, _ = encrypt_bytes(b"q")
    uri = api.start_upload(blob, 1).entity["azureStorageUri"]
    emu.faults.add(Fault("blob", "PUT", r"comp=block", status=503))
    busy = api.put_block(uri, "MDAw", blob)
    assert busy.status_code == 503 and busy.headers["x-ms-error-code"] == "ServerBusy"


def test_graph_500_uses_the_intune_message(emu: Emulator, api: Api) -> None:
    emu.faults.add(Fault("graph", "POST", r"/mobileApps$", status=500))
    response = api.call("POST", APPS, {})
    error = response.json()["error"]
    assert error["code"] == "InternalError"
    assert "An error has occurred" in json.loads(error["message"])["Message"]
    assert emu.write_requests()[0].status == 500


def test_upload_uri_failure_states(emu: Emulator, api: Api) -> None:
    emu.fail_upload_uri()
    emu.fail_upload_uri(timed_out=True)
    app = api.create_app()
    base = f"{APPS}/{app['id']}/microsoft.graph.iosLobApp/contentVersions"
    version = api.ok("POST", base, {}, 201)["id"]
    body = {"name": "a.ipa", "size": 1, "sizeEncrypted": 64}
    seen = []
    for _ in range(2):
        file = api.ok("POST", f"{base}/{version}/files", body, 201)
        path = f"{base}/{version}/files/{file['id']}"
        states = [api.ok("GET", path)["uploadState"] for _ in range(3)]
        seen.append(states[-1])
        assert api.ok("GET", path)["azureStorageUri"] is None
    assert seen == ["azureStorageUriRequestFailed", "azureStorageUriRequestTimedOut"]


def test_no_write_helper(emu: Emulator, api: Api) -> None:
    api.call("GET", APPS)
    assert emu.write_requests() == []
    api.create_app()
    assert [(r.method, r.status) for r in emu.write_requests()] == [("POST", 201)]


def test_sandbox_prints_exports_and_stops() -> None:
    lines: list[str] = []
    stop = threading.Event()
    config = parse_args(["--port-graph", "0"])
    runner = threading.Thread(target=run_sandbox, args=(config, lines.append, stop))
    runner.start()
    for _ in range(200):
        if any(line.startswith("# Press") for line in lines):
            break
        threading.Event().wait(0.02)
    exports = dict(
        shlex.split(line)[1].split("=", 1) for line in lines if line.startswith("export ")
    )
    assert set(exports) == {
        "INTUNE_CLIENT_ID",
        "INTUNE_CLIENT_SECRET",
        "INTUNE_AUTH_URL",
        "INTUNE_GRAPH_URL",
        "SSL_CERT_FILE",
    }
    ca = exports["SSL_CERT_FILE"]
    with httpx.Client(verify=ssl.create_default_context(cafile=ca)) as client:
        response = client.post(
            exports["INTUNE_AUTH_URL"],
            data={
                "grant_type": "client_credentials",
                "client_id": exports["INTUNE_CLIENT_ID"],
                "client_secret": exports["INTUNE_CLIENT_SECRET"],
                "scope": exports["INTUNE_GRAPH_URL"] + "/.default",
            },
        )
    assert response.status_code == 200, response.text
    stop.set()
    runner.join(timeout=10)
    assert not runner.is_alive()
