"""A hand-written Intune client for exercising the emulator step by step (not the product)."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from intune_step.crypto import FileEncryptionInfo, encrypt_bytes
from intune_step.emulator import Emulator

BETA = "beta"


def ios_body(**overrides: Any) -> dict[str, Any]:
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "@odata.type": "#microsoft.graph.iosLobApp",
        "displayName": "Field Service",
        "description": "Technician app",
        "publisher": "Contoso",
        "fileName": "FieldService.ipa",
        "bundleId": "com.contoso.field",
        "versionNumber": "2.4.1",
        "buildNumber": "241",
        "expirationDateTime": expires,
        "applicableDeviceType": {"iPad": True, "iPhoneAndIPod": True},
        "minimumSupportedOperatingSystem": {"v15_0": True},  # in v1.0 and beta
    }
    body.update(overrides)
    return body


def win32_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "@odata.type": "#microsoft.graph.win32LobApp",
        "displayName": "7-Zip",
        "publisher": "Igor Pavlov",
        "fileName": "IntunePackage.intunewin",
        "setupFilePath": "7z.msi",
        "installCommandLine": 'msiexec /i "7z.msi" /quiet',
        "uninstallCommandLine": "msiexec /x {23170F69-40C1-2702-2301-000001000000} /quiet",
        "rules": [
            {
                "@odata.type": "#microsoft.graph.win32LobAppProductCodeRule",
                "ruleType": "detection",
                "productCode": "{23170F69-40C1-2702-2301-000001000000}",
            }
        ],
    }
    body.update(overrides)
    return body


MAC_MIN_OS = "#microsoft.graph.macOSMinimumOperatingSystem"
INCLUDED_APP = "#microsoft.graph.macOSIncludedApp"
# A create body Graph accepts for each LOB type, beside ios_body and win32_body.
LOB_BODIES: dict[str, dict[str, Any]] = {
    "androidLobApp": {"@odata.type": "#microsoft.graph.androidLobApp", "displayName": "A",
                      "fileName": "a.apk", "packageId": "com.contoso.a", "versionCode": "10",
                      "versionName": "1.0", "minimumSupportedOperatingSystem": {"v8_0": True}},
    "windowsMobileMSI": {"@odata.type": "#microsoft.graph.windowsMobileMSI",
                         "displayName": "M", "fileName": "m.msi",
                         "productCode": "{23170F69-40C1-2702-2301-000001000000}",
                         "productVersion": "1.0"},
    "windowsUniversalAppX": {"@odata.type": "#microsoft.graph.windowsUniversalAppX",
                             "displayName": "X", "fileName": "x.msix",
                             "identityName": "Contoso.X", "identityVersion": "1.0.0.0",
                             "identityPublisherHash": "8wekyb3d8bbwe",
                             "applicableArchitectures": "x64,x86",
                             "minimumSupportedOperatingSystem": {"v10_0": True}},
    "macOSPkgApp": {"@odata.type": "#microsoft.graph.macOSPkgApp", "displayName": "P",
                    "fileName": "p.pkg", "primaryBundleId": "com.contoso.p",
                    "primaryBundleVersion": "1.0",
                    "includedApps": [{"@odata.type": INCLUDED_APP, "bundleId": "com.contoso.p",
                                      "bundleVersion": "1.0"}],
                    "minimumSupportedOperatingSystem": {"@odata.type": MAC_MIN_OS,
                                                        "v11_0": True}},
    "macOSDmgApp": {"@odata.type": "#microsoft.graph.macOSDmgApp", "displayName": "D",
                    "fileName": "d.dmg", "primaryBundleId": "com.contoso.d",
                    "primaryBundleVersion": "2.0",
                    "includedApps": [{"bundleId": "com.contoso.d", "bundleVersion": "2.0"}],
                    "minimumSupportedOperatingSystem": {"v10_15": True}},
    "macOSLobApp": {"@odata.type": "#microsoft.graph.macOSLobApp", "displayName": "L",
                    "fileName": "l.pkg", "bundleId": "com.contoso.l",
                    "minimumSupportedOperatingSystem": {"v12_0": True}},
}  # fmt: skip


def lob_body(type_name: str, **overrides: Any) -> dict[str, Any]:
    """A valid create body of ``type_name`` (a fresh copy), with ``overrides`` set."""
    if type_name == "iosLobApp":
        return ios_body(**overrides)
    if type_name == "win32LobApp":
        return win32_body(**overrides)
    body = copy.deepcopy(LOB_BODIES[type_name])
    body.update(overrides)
    return body


@dataclass
class Upload:
    app_id: str
    file_path: str  # Graph path of the content file
    version_id: str
    entity: dict[str, Any] = field(default_factory=dict)


class Api:
    """Token plus Graph and Blob calls, with just enough helpers to script an upload."""

    def __init__(self, emu: Emulator, http: httpx.Client, version: str = BETA) -> None:
        self.emu = emu
        self.http = http
        self.version = version
        self._token: str | None = None

    def token_response(self, **form: str) -> httpx.Response:
        data = {
            "grant_type": "client_credentials",
            "client_id": self.emu.client_id,
            "client_secret": self.emu.client_secret,
            "scope": f"{self.emu.graph_url}/.default",
        }
        data.update(form)
        return self.http.post(self.emu.auth_url, data={k: v for k, v in data.items() if v})

    @property
    def token(self) -> str:
        if self._token is None:
            response = self.token_response()
            assert response.status_code == 200, response.text
            self._token = response.json()["access_token"]
        return self._token

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        url = path if path.startswith("https://") else f"{self.emu.graph_url}/{self.version}/{path}"
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        return self.http.request(method, url, json=body, headers=headers, **kw)

    def ok(
        self, method: str, path: str, body: Any = None, status: int = 200, **kw: Any
    ) -> dict[str, Any]:
        response = self.call(method, path, body, **kw)
        assert response.status_code == status, response.text
        return response.json() if response.content else {}

    def create_app(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.ok("POST", "deviceAppManagement/mobileApps", body or ios_body(), 201)

    def start_upload(
        self,
        blob: bytes,
        plain_size: int,
        app_id: str | None = None,
        cast: str = "iosLobApp",
        size_encrypted: int | None = None,
    ) -> Upload:
        app_id = app_id or self.create_app()["id"]
        base = f"deviceAppManagement/mobileApps/{app_id}/microsoft.graph.{cast}/contentVersions"
        version = self.ok("POST", base, {}, 201)["id"]
        file_body = {
            "@odata.type": "#microsoft.graph.mobileAppContentFile",
            "name": "FieldService.ipa",
            "size": plain_size,
            "sizeEncrypted": len(blob) if size_encrypted is None else size_encrypted,
            "manifest": None,
            "isDependency": False,
        }
        entity = self.ok("POST", f"{base}/{version}/files", file_body, 201)
        assert entity["uploadState"] == "azureStorageUriRequestPending"
        path = f"{base}/{version}/files/{entity['id']}"
        entity = self.wait(path, "azureStorageUriRequestSuccess")
        return Upload(app_id, path, version, entity)

    def wait(self, path: str, want: str, key: str = "uploadState", tries: int = 50) -> dict:
        for _ in range(tries):
            entity = self.ok("GET", path)
            if entity[key] == want:
                return entity
            assert not str(entity[key]).endswith(("Failed", "TimedOut")), entity
            time.sleep(0.02)
        raise AssertionError(f"{path} never reached {want}: {entity}")

    def put_block(self, uri: str, block_id: str, data: bytes) -> httpx.Response:
        return self.http.put(
            f"{uri}&comp=block&blockid={block_id}",
            content=data,
            headers={"x-ms-blob-type": "BlockBlob"},
        )

    def put_block_list(self, uri: str, ids: list[str], declaration: bool = True) -> httpx.Response:
        xml = "".join(f"<Latest>{i}</Latest>" for i in ids)
        head = '<?xml version="1.0" encoding="utf-8"?>' if declaration else ""
        return self.http.put(
            f"{uri}&comp=blocklist",
            content=f"{head}<BlockList>{xml}</BlockList>".encode(),
            headers={"Content-Type": "application/xml"},
        )

    def upload_blocks(self, uri: str, blob: bytes, block_size: int = 1000) -> list[str]:
        ids = []
        for index, offset in enumerate(range(0, len(blob), block_size)):
            block_id = base64.b64encode(f"{index:04d}".encode()).decode()
            response = self.put_block(uri, block_id, blob[offset : offset + block_size])
            assert response.status_code == 201, response.text
            ids.append(block_id)
        return ids

    def commit(self, upload: Upload, info: FileEncryptionInfo | dict) -> httpx.Response:
        body = info if isinstance(info, dict) else info.to_graph()
        return self.call("POST", f"{upload.file_path}/commit", {"fileEncryptionInfo": body})

    def publish(self, upload: Upload, odata_type: str = "#microsoft.graph.iosLobApp") -> dict:
        body = {"@odata.type": odata_type, "committedContentVersion": upload.version_id}
        response = self.call("PATCH", f"deviceAppManagement/mobileApps/{upload.app_id}", body)
        assert response.status_code == 204, response.text
        return self.wait(
            f"deviceAppManagement/mobileApps/{upload.app_id}", "published", "publishingState"
        )

    def full_upload(self, plaintext: bytes, block_size: int = 1000) -> Upload:
        blob, info = encrypt_bytes(plaintext)
        upload = self.start_upload(blob, len(plaintext))
        ids = self.upload_blocks(upload.entity["azureStorageUri"], blob, block_size)
        assert self.put_block_list(upload.entity["azureStorageUri"], ids).status_code == 201
        assert self.commit(upload, info).status_code == 200
        self.wait(upload.file_path, "commitFileSuccess")
        self.publish(upload)
        return upload
