"""The Azure Blob listener: Put Block, Put Block List, Put Blob, Get Blob, Get Block List.

Authorisation is the SAS alone (docs/protocol.md, "Upload URL"): the ``sig`` must be the one
currently granted to the blob's content file and the grant must not have expired. Blocks
stream to disk.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Iterator
from urllib.parse import unquote
from xml.etree import ElementTree

from .blobstore import BlobStore, BlockListError
from .config import EmulatorConfig
from .faults import Fault, ServiceName
from .server import Request, Response
from .state import State
from .wire import BLOB_CODE_BY_STATUS, blob_error, blob_headers, http_date, utcnow

# The effective Put Block limit at sv=2017-04-17 (docs/protocol.md, "Azure Blob upload").
MAX_BLOCK = 100 * 1024 * 1024
MAX_PUT_BLOB = 256 * 1024 * 1024
MAX_BLOCK_LIST = 8 * 1024 * 1024
MAX_BLOCKS = 50_000
CHUNK = 1 << 20
# Upload states in which the blob is the commit's: being verified, or committed.
SEALED = ("commitFilePending", "commitFileSuccess")


def parse_query(query: str) -> dict[str, str]:
    """Percent-decode without turning '+' into a space, and keep raw '=' inside values."""
    params: dict[str, str] = {}
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            params[unquote(name).lower()] = unquote(value)
    return params


class BlobService:
    name: ServiceName = "blob"
    server_header = "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0"

    def __init__(self, config: EmulatorConfig, state: State, store: BlobStore,
                 downloads: Callable[[str, dict[str, str], str], Response | None] | None = None,
                 ) -> None:
        self.config = config
        self.state = state
        self.store = store
        self.downloads = downloads  # report exports (emulator/reports.py), signed GETs

    def fault_response(self, fault: Fault, request: Request) -> Response:
        code = BLOB_CODE_BY_STATUS.get(fault.status, "InternalError")
        if fault.body is None:
            return blob_error(
                fault.status, code, request_id=request.request_id, headers=dict(fault.headers)
            )
        body = fault.body if isinstance(fault.body, bytes) else str(fault.body).encode()
        return Response(fault.status, body, {**blob_headers(request.request_id), **fault.headers})

    def handle(self, request: Request) -> Response:
        if self.config.blob_latency_s:
            time.sleep(self.config.blob_latency_s)
        rid = request.request_id
        key = unquote(request.path).lstrip("/")
        params = parse_query(request.query)
        if "Authorization" in request.headers:
            # A SAS is the whole authorisation; a bearer token beside it is malformed
            # (docs/protocol.md, "Upload URL").
            return blob_error(400, "InvalidAuthenticationInfo", request_id=rid)
        if self.downloads is not None and request.method == "GET":
            with self.state.lock:
                export = self.downloads(key, params, rid)
            if export is not None:
                return export
        denied = self._authorise(key, params, rid, write=request.method == "PUT")
        if denied is not None:
            return denied
        comp = params.get("comp", "")
        if request.method == "PUT":
            if request.content_length is None:
                return blob_error(411, "MissingContentLengthHeader", request_id=rid)
            if comp == "block" and request.content_length == 0:
                return blob_error(
                    400,
                    "InvalidHeaderValue",
                    request_id=rid,
                    elements={"HeaderName": "Content-Length", "HeaderValue": "0"},
                )
            if comp == "block":
                return self._put_block(request, key, params)
            if comp == "blocklist":
                return self._put_block_list(request, key)
            if comp == "":
                return self._put_blob(request, key)
        elif request.method in ("GET", "HEAD"):
            if comp == "blocklist":
                return self._get_block_list(request, key, params)
            if comp == "":
                return self._get_blob(request, key)
        return blob_error(405, "UnsupportedHttpVerb", request_id=rid)

    # --- authorisation -------------------------------------------------------------------

    def _authorise(
        self, key: str, params: dict[str, str], rid: str, *, write: bool
    ) -> Response | None:
        with self.state.lock:
            file = self.state.files_by_blob.get(key)
            grant = file.sas if file is not None else None
            sealed = file is not None and file.upload_state in SEALED
        if grant is None or not self.store.exists(key):
            return blob_error(
                404 if "sig" not in params else 403,
                "ResourceNotFound" if "sig" not in params else "AuthenticationFailed",
                request_id=rid,
                detail=None if "sig" not in params else "Signature did not match.",
            )
        if params.get("sig") != grant.sig or params.get("si") != grant.si or "sv" not in params:
            return blob_error(
                403,
                "AuthenticationFailed",
                request_id=rid,
                detail="Signature did not match. String to sign used was /blob/emulator/" + key,
            )
        if write and sealed:
            # The commit took the blob: its upload URL writes no more.
            # See docs/protocol.md, "Commit".
            return blob_error(
                403,
                "AuthenticationFailed",
                request_id=rid,
                detail="The upload URL no longer grants write access: the file is committed.",
            )
        now = utcnow()
        if not grant.start <= now < grant.expiry:
            return blob_error(
                403,
                "AuthenticationFailed",
                request_id=rid,
                detail=f"Signature not valid in the specified time frame: Start "
                f"[{http_date(grant.start)}] - Expiry [{http_date(grant.expiry)}] - Current "
                f"[{http_date(now)}]",
            )
        return None

    # --- body reading, optionally throttled ----------------------------------------------

    def _body(self, request: Request) -> Iterator[bytes]:
        bps = self.config.blob_bandwidth_bps
        if not bps:
            yield from request.iter_body(CHUNK)
            return
        # A clock per request (one connection carries one request at a time), so parallel
        # connections each get ``bps``. It runs from the first body byte and is never reset,
        # so time this process spends handling the data is not taken off the link as well.
        chunk = max(4096, min(CHUNK, bps // 20))
        started, received = time.monotonic(), 0
        for data in request.iter_body(chunk):
            received += len(data)
            wait = started + received / bps - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            yield data

    # --- operations ----------------------------------------------------------------------

    def _put_block(self, request: Request, key: str, params: dict[str, str]) -> Response:
        rid = request.request_id
        block_id = params.get("blockid", "")
        try:
            decoded = base64.b64decode(block_id, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if not decoded or len(decoded) > 64:
            return blob_error(
                400,
                "InvalidQueryParameterValue",
                request_id=rid,
                detail=f"blockid={block_id!r} is not base64 of 1 to 64 bytes",
            )
        if (request.content_length or 0) > MAX_BLOCK:
            return _too_large(rid)
        if not self.store.id_length_ok(key, block_id):
            return blob_error(400, "InvalidBlobOrBlock", request_id=rid)
        md5 = self.store.put_block(key, block_id, self._body(request))
        sent_md5 = request.headers.get("Content-MD5")
        if sent_md5 and sent_md5 != md5:
            return blob_error(400, "Md5Mismatch", request_id=rid)
        return Response(
            201,
            b"",
            {
                **blob_headers(rid),
                "Content-MD5": md5,
                "x-ms-request-server-encrypted": "true",
            },
        )

    def _put_block_list(self, request: Request, key: str) -> Response:
        rid = request.request_id
        if (request.content_length or 0) > MAX_BLOCK_LIST:
            return _too_large(rid)
        raw = request.read_body().lstrip(b"\xef\xbb\xbf").strip()
        try:
            root = ElementTree.fromstring(raw)
        except ElementTree.ParseError:
            return blob_error(400, "InvalidXmlDocument", request_id=rid)
        if root.tag != "BlockList":
            return blob_error(400, "InvalidXmlDocument", request_id=rid)
        entries: list[tuple[str, str]] = []
        for child in root:
            if child.tag not in ("Latest", "Committed", "Uncommitted"):
                return blob_error(400, "InvalidXmlDocument", request_id=rid)
            entries.append((child.tag, (child.text or "").strip()))
        if len(entries) > MAX_BLOCKS:
            return blob_error(400, "InvalidBlockList", request_id=rid, detail="too many blocks")
        try:
            self.store.put_block_list(key, entries)
        except BlockListError as exc:
            return blob_error(
                400, "InvalidBlockList", request_id=rid, detail=f"unknown block id {exc}"
            )
        return Response(201, b"", {**blob_headers(rid), **_etag()})

    def _put_blob(self, request: Request, key: str) -> Response:
        rid = request.request_id
        if (request.content_length or 0) > MAX_PUT_BLOB:
            return _too_large(rid)
        self.store.put_blob(key, self._body(request))
        return Response(201, b"", {**blob_headers(rid), **_etag()})

    def _get_block_list(self, request: Request, key: str, params: dict[str, str]) -> Response:
        committed, uncommitted = self.store.block_ids(key)
        which = params.get("blocklisttype", "committed").lower()

        def section(tag: str, blocks: list[tuple[str, int]]) -> str:
            inner = "".join(
                f"<Block><Name>{i}</Name><Size>{size}</Size></Block>" for i, size in blocks
            )
            return f"<{tag}>{inner}</{tag}>"

        xml = '<?xml version="1.0" encoding="utf-8"?><BlockList>'
        if which in ("committed", "all"):
            xml += section("CommittedBlocks", committed)
        if which in ("uncommitted", "all"):
            xml += section("UncommittedBlocks", uncommitted)
        xml += "</BlockList>"
        return Response(
            200,
            xml.encode(),
            {**blob_headers(request.request_id), "Content-Type": "application/xml"},
        )

    def _get_blob(self, request: Request, key: str) -> Response:
        blob = self.store.committed(key)
        if blob is None:
            return blob_error(404, "BlobNotFound", request_id=request.request_id)
        return Response(
            200,
            blob.chunks(),
            {
                **blob_headers(request.request_id),
                "Content-Type": "application/octet-stream",
                "x-ms-blob-type": "BlockBlob",
                **_etag(),
            },
            length=blob.length,
        )


def _too_large(rid: str) -> Response:
    response = blob_error(413, "RequestBodyTooLarge", request_id=rid)
    response.close = True  # the body is not read; the connection cannot be reused
    return response


def _etag() -> dict[str, str]:
    now = utcnow()
    return {"ETag": f'"0x{time.time_ns():X}"', "Last-Modified": http_date(now)}
