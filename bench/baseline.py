"""The baseline: the simplest tool that publishes, as the common tools do it.

See docs/protocol.md, "Azure Blob upload". The Microsoft PowerShell samples, IntuneWin32App,
WinTuner, intune-uploader and IntuneGet all do the same few steps, and nothing else: sign in
with the client secret, create the app, create a content version and its file, poll for the
upload URL every 0.5 s, encrypt the whole file to a temporary file, send it in 6 MiB blocks one
at a time, commit, poll for the commit every 0.5 s, and point the app at the version. No lookup
of an existing app, no lock, no clean-up, no wait for the publishing state, no verification.

It signs in with MSAL, as Microsoft's Python samples for the client-credentials flow do. It
is a kind baseline: it reads the file's metadata with this project's reader and encrypts,
digests and MACs in a single pass with the same crypto library (the tools hash the file in a
separate read), and it has no CLI framework.

Run as: python -m bench.baseline FILE, with INTUNE_CLIENT_ID, INTUNE_CLIENT_SECRET,
INTUNE_AUTH_URL, INTUNE_GRAPH_URL and SSL_CERT_FILE set (the bench's emulator gives them).
"""

from __future__ import annotations

import base64
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from intune_step.artifacts import read_artifact
from intune_step.crypto import HEADER_SIZE, StreamEncryptor
from intune_step.graph.bodies import content_file_body, minimum_os

BLOCK = 6 * 1024 * 1024  # the tools' chunk size
READ = 1024 * 1024
POLL = 0.5  # the tools' poll interval


class Tool:
    def __init__(self, http: httpx.Client, graph: str, token: str) -> None:
        self.http = http
        self.graph = graph
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self.http.request(method, f"{self.graph}/{path}", json=body,
                                     headers=self.headers)
        if response.status_code >= 400:
            sys.exit(f"baseline: {method} {path}: HTTP {response.status_code} {response.text}")
        return response.json() if response.content else {}

    def poll(self, path: str, want: str) -> dict[str, Any]:
        while True:
            entity = self.call("GET", path)
            if entity.get("uploadState") == want:
                return entity
            if str(entity.get("uploadState")).endswith(("Failed", "TimedOut")):
                sys.exit(f"baseline: {path} ended {entity.get('uploadState')}")
            time.sleep(POLL)


def sign_in(graph_root: str) -> str:
    import msal
    import requests

    session = requests.Session()
    if "SSL_CERT_FILE" in os.environ:  # requests reads its own variable for the CA bundle
        os.environ["REQUESTS_CA_BUNDLE"] = session.verify = os.environ["SSL_CERT_FILE"]
    app = msal.ConfidentialClientApplication(
        os.environ["INTUNE_CLIENT_ID"], client_credential=os.environ["INTUNE_CLIENT_SECRET"],
        authority=os.environ["INTUNE_AUTH_URL"].removesuffix("/oauth2/v2.0/token"),
        http_client=session, instance_discovery=False)
    result = app.acquire_token_for_client(scopes=[f"{graph_root}/.default"])
    if "access_token" not in result:
        sys.exit(f"baseline: sign-in failed: {result.get('error_description')}")
    return str(result["access_token"])


def publish(path: Path) -> None:
    meta = read_artifact(path)
    graph_root = os.environ["INTUNE_GRAPH_URL"].rstrip("/")
    with httpx.Client(verify=os.environ.get("SSL_CERT_FILE", True), timeout=120) as http:
        tool = Tool(http, f"{graph_root}/beta", sign_in(graph_root))
        body = {"@odata.type": meta.odata_type, "displayName": meta.display_name or path.stem,
                "description": meta.display_name or path.stem, "publisher": "bench",
                "fileName": meta.file_name, **meta.properties}
        flags = minimum_os(meta, "beta")
        if flags is not None:
            body["minimumSupportedOperatingSystem"] = flags
        app = tool.call("POST", "deviceAppManagement/mobileApps", body)
        cast = f"deviceAppManagement/mobileApps/{app['id']}/microsoft.graph.{meta.app_type}"
        version = tool.call("POST", f"{cast}/contentVersions", {})["id"]
        created = tool.call("POST", f"{cast}/contentVersions/{version}/files",
                            content_file_body(meta))
        file_path = f"{cast}/contentVersions/{version}/files/{created['id']}"
        uri = tool.poll(file_path, "azureStorageUriRequestSuccess")["azureStorageUri"]
        info = upload(http, path, uri)
        tool.call("POST", f"{file_path}/commit", {"fileEncryptionInfo": info})
        tool.poll(file_path, "commitFileSuccess")
        tool.call("PATCH", f"deviceAppManagement/mobileApps/{app['id']}",
                  {"@odata.type": meta.odata_type, "committedContentVersion": version})


def upload(http: httpx.Client, path: Path, uri: str) -> dict[str, Any]:
    """Encrypt to a temporary file, then Put Block 6 MiB at a time, then Put Block List."""
    with tempfile.TemporaryFile(dir=path.parent) as encrypted:
        encryptor = StreamEncryptor()
        encrypted.write(bytes(HEADER_SIZE))
        with path.open("rb") as source:
            while chunk := source.read(READ):
                encrypted.write(encryptor.update(chunk))
        encrypted.write(encryptor.finalize())
        encrypted.seek(0)
        encrypted.write(encryptor.header())
        encrypted.flush()
        encrypted.seek(0)
        ids: list[str] = []
        while block := encrypted.read(BLOCK):
            block_id = base64.b64encode(f"{len(ids):04d}".encode()).decode()
            put(http, f"{uri}&comp=block&blockid={block_id}", block)
            ids.append(block_id)
    xml = ('<?xml version="1.0" encoding="utf-8"?><BlockList>'
           + "".join(f"<Latest>{i}</Latest>" for i in ids) + "</BlockList>")
    put(http, f"{uri}&comp=blocklist", xml.encode())
    return encryptor.info().to_graph()


def put(http: httpx.Client, url: str, data: bytes) -> None:
    status = 0
    for _attempt in range(3):
        status = http.put(url, content=data, headers={"x-ms-blob-type": "BlockBlob"}).status_code
        if status == 201:
            return
    sys.exit(f"baseline: Put failed: HTTP {status}")


if __name__ == "__main__":
    publish(Path(sys.argv[1]))
