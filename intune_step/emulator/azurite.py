"""Azurite (Microsoft's Azure Storage emulator, npm ``azurite``): start it, and talk to it.

:func:`start_azurite` runs ``azurite-blob`` over HTTPS with a certificate from the emulator's
CA, so clients that trust ``ca.pem`` trust Azurite too. :class:`AzuriteClient` is the little
Shared Key REST client the emulator needs: create a container, set its stored access policy
(the live service's SAS URLs use ``si=``), and stream a committed blob back for verification.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

from .tls import CertificateAuthority

API_VERSION = "2021-08-06"
# What Intune's SAS URLs carry (docs/protocol.md, "Upload URL"); Azurite accepts it.
SAS_VERSION = "2017-04-17"


def find_azurite_blob(explicit: str | None = None) -> str | None:
    """The ``azurite-blob`` executable: ``explicit``, then ./node_modules/.bin, then PATH."""
    if explicit:
        return explicit if Path(explicit).is_file() else None
    roots = [Path.cwd(), *Path(__file__).resolve().parents]
    for root in roots:
        candidate = root / "node_modules" / ".bin" / "azurite-blob"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("azurite-blob")


@dataclass
class AzuriteProcess:
    process: subprocess.Popen[bytes]
    url: str  # blob endpoint including the account, e.g. https://127.0.0.1:10000/devstoreaccount1
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def start_azurite(
    executable: str,
    ca: CertificateAuthority,
    state_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    account: str = "devstoreaccount1",
    timeout_s: float = 30.0,
) -> AzuriteProcess:
    """Start ``azurite-blob`` over HTTPS and wait until it answers; raises RuntimeError."""
    location = state_dir / "azurite"
    location.mkdir(parents=True, exist_ok=True)
    pair = ca.issue(state_dir, "azurite", (host, "localhost"))
    port = port or _free_port(host)
    log_path = state_dir / "azurite.log"
    cmd = [
        executable,
        "--blobHost",
        host,
        "--blobPort",
        str(port),
        "--location",
        str(location),
        "--cert",
        str(pair.cert_path),
        "--key",
        str(pair.key_path),
        "--skipApiVersionCheck",
        "--loose",
        "--silent",
    ]
    env = dict(os.environ)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    url = f"https://{host}:{port}/{account}"
    started = AzuriteProcess(process, url, log_path)
    context = ca.client_context()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log_path.read_text(encoding="utf-8", errors="replace")
            raise RuntimeError(f"azurite-blob exited: {text}")
        try:
            conn = http.client.HTTPSConnection(host, port, context=context, timeout=2)
            conn.request("GET", f"/{account}?comp=list")
            conn.getresponse().read()
            conn.close()
            return started
        except (OSError, http.client.HTTPException):
            time.sleep(0.2)
    started.stop()
    raise RuntimeError(f"azurite-blob did not answer on {url} within {timeout_s:.0f}s")


class AzuriteError(RuntimeError):
    pass


class AzuriteClient:
    """Shared Key calls against one Azurite (or Azure) blob endpoint."""

    def __init__(self, url: str, account: str, key: str, context: ssl.SSLContext) -> None:
        parts = urlsplit(url.rstrip("/"))
        self.scheme = parts.scheme
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        # Path-style endpoints (Azurite) carry the account as the first path segment.
        self.base_path = parts.path if parts.path else f"/{account}"
        self.account = account
        self.key = base64.b64decode(key)
        self.context = context

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{self.base_path}"

    # --- SAS -----------------------------------------------------------------------------

    def policy_signature(self, container: str, blob: str, si: str) -> str:
        """The sig of a service SAS bound to stored access policy ``si``.

        sp/st/se are empty in the string to sign: the policy holds them (2015-04-05 rules,
        which Azurite applies to sv=2017-04-17).
        """
        resource = f"/blob/{self.account}/{container}/{blob}"
        fields = ["", "", "", resource, si, "", "", SAS_VERSION, "", "", "", "", ""]
        mac = hmac.new(self.key, "\n".join(fields).encode(), hashlib.sha256).digest()
        return base64.b64encode(mac).decode()

    # --- REST ----------------------------------------------------------------------------

    def create_container(self, container: str) -> None:
        self._call("PUT", f"/{container}", {"restype": "container"}, expect=(201, 409))

    def delete_container(self, container: str) -> None:
        self._call("DELETE", f"/{container}", {"restype": "container"}, expect=(202, 404))

    def set_policy(
        self, container: str, si: str, start: dt.datetime, expiry: dt.datetime, permission: str
    ) -> None:
        """Replace the container's stored access policies with this one (revoking others)."""
        fmt = "%Y-%m-%dT%H:%M:%S.0000000Z"
        body = (
            '<?xml version="1.0" encoding="utf-8"?><SignedIdentifiers><SignedIdentifier>'
            f"<Id>{si}</Id><AccessPolicy><Start>{start.strftime(fmt)}</Start>"
            f"<Expiry>{expiry.strftime(fmt)}</Expiry><Permission>{permission}</Permission>"
            "</AccessPolicy></SignedIdentifier></SignedIdentifiers>"
        ).encode()
        self._call(
            "PUT",
            f"/{container}",
            {"restype": "container", "comp": "acl"},
            body=body,
            expect=(200,),
        )

    def committed_block_count(self, container: str, blob: str) -> int | None:
        """How many committed blocks the blob has; None if it does not exist."""
        status, body = self._call(
            "GET",
            f"/{container}/{quote(blob)}",
            {"comp": "blocklist", "blocklisttype": "committed"},
            expect=(200, 404),
        )
        if status == 404:
            return None
        root = ElementTree.fromstring(body)
        return len(root.findall("./CommittedBlocks/Block"))

    def stream_blob(
        self, container: str, blob: str, chunk: int = 1 << 20
    ) -> tuple[int, Iterator[bytes]]:
        """(length, chunks) of a blob, streamed from one GET."""
        conn, response = self._open("GET", f"/{container}/{quote(blob)}", {})
        if response.status != 200:
            detail = response.read()
            conn.close()
            raise AzuriteError(f"GET blob: {response.status} {detail[:300]!r}")
        length = int(response.getheader("Content-Length", "0"))

        def chunks() -> Iterator[bytes]:
            try:
                while data := response.read(chunk):
                    yield data
            finally:
                conn.close()

        return length, chunks()

    def _call(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        *,
        body: bytes = b"",
        expect: tuple[int, ...],
    ) -> tuple[int, bytes]:
        conn, response = self._open(method, path, query, body)
        try:
            data = response.read()
        finally:
            conn.close()
        if response.status not in expect:
            raise AzuriteError(f"{method} {path}: {response.status} {data[:300]!r}")
        return response.status, data

    def _open(
        self, method: str, path: str, query: dict[str, str], body: bytes = b""
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        full_path = self.base_path + path
        headers = {
            "x-ms-date": formatdate(usegmt=True),
            "x-ms-version": API_VERSION,
            "Content-Length": str(len(body)),
        }
        if body:
            headers["Content-Type"] = "application/xml"
        headers["Authorization"] = self._shared_key(method, full_path, query, headers)
        target = full_path + (
            "?" + "&".join(f"{k}={quote(v)}" for k, v in query.items()) if query else ""
        )
        conn: http.client.HTTPConnection
        if self.scheme == "https":
            conn = http.client.HTTPSConnection(
                self.host, self.port, context=self.context, timeout=60
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        conn.request(method, target, body=body or None, headers=headers)
        return conn, conn.getresponse()

    def _shared_key(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> str:
        length = headers.get("Content-Length", "")
        ms_headers = "".join(
            f"{k.lower()}:{v}\n"
            for k, v in sorted(headers.items(), key=lambda kv: kv[0].lower())
            if k.lower().startswith("x-ms-")
        )
        resource = f"/{self.account}{path}" + "".join(
            f"\n{k.lower()}:{v}" for k, v in sorted(query.items())
        )
        string_to_sign = (
            "\n".join(
                [
                    method,
                    "",
                    "",
                    "" if length == "0" else length,
                    "",
                    headers.get("Content-Type", ""),
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
            + "\n"
            + ms_headers
            + resource
        )
        sig = base64.b64encode(hmac.new(self.key, string_to_sign.encode(), hashlib.sha256).digest())
        return f"SharedKey {self.account}:{sig.decode()}"


def close_quietly(process: AzuriteProcess | None) -> None:
    if process is not None:
        with contextlib.suppress(Exception):
            process.stop()
