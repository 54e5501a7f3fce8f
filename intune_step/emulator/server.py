"""TLS-wrapped (or, for the managed identity endpoint, plain), threaded, keep-alive HTTP/1.1
listeners that hand requests to a service.

A service is anything with ``name``, ``handle(request) -> Response`` and
``fault_response(fault, request) -> Response``. This module owns the wire: request framing,
Content-Length, keep-alive, draining unread bodies, injected faults and the request log.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol, Self
from urllib.parse import urlsplit

from .faults import Fault, FaultSet, ServiceName

DRAIN_LIMIT = 1 << 20  # unread bodies up to this size are drained to keep the connection
READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class RequestRecord:
    """One request as the emulator saw it. ``status`` 0 means the connection was dropped."""

    service: str
    method: str
    path: str
    status: int
    request_id: str
    query: str = ""
    at: float = 0.0  # time.monotonic() when the request arrived (its headers were read)
    retry_after: str | None = None  # the answer's Retry-After, if any


@dataclass
class Response:
    status: int
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    length: int | None = None  # required when body is an iterable
    close: bool = False


class Request:
    """The parsed request line and headers; the body is read on demand, at most once."""

    def __init__(self, handler: _Handler, request_id: str) -> None:
        parts = urlsplit(handler.path)
        self.method: str = handler.command
        self.path: str = parts.path
        self.query: str = parts.query
        self.headers: Message = handler.headers
        self.request_id = request_id
        self.arrived = time.monotonic()
        self.conn = handler.conn_state
        self._rfile = handler.rfile
        raw = self.headers.get("Content-Length")
        self.content_length: int | None = None
        if raw is not None:
            with contextlib.suppress(ValueError):
                self.content_length = max(0, int(raw))
        self.chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        self.consumed = 0

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def remaining(self) -> int:
        return (self.content_length or 0) - self.consumed

    def iter_body(self, chunk: int = READ_CHUNK) -> Iterator[bytes]:
        """Yield the body in chunks; raises ConnectionError if the peer hangs up early."""
        while self.remaining > 0:
            data = self._rfile.read(min(chunk, self.remaining))
            if not data:
                raise ConnectionError("client closed the connection mid-body")
            self.consumed += len(data)
            yield data

    def read_body(self, limit: int = 16 << 20) -> bytes:
        if self.remaining > limit:
            raise ValueError("request body too large")
        return b"".join(self.iter_body())


class Service(Protocol):
    name: ServiceName
    server_header: str

    def handle(self, request: Request) -> Response: ...

    def fault_response(self, fault: Fault, request: Request) -> Response: ...


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections are closed after this
    server: _TLSServer

    def setup(self) -> None:
        super().setup()
        self.conn_state: dict[str, object] = {}  # per-connection scratch for services

    def version_string(self) -> str:
        return self.server.service.server_header

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        service = self.server.service
        request_id = str(uuid.uuid4())
        request = Request(self, request_id)
        fault = self.server.faults.match(service.name, request.method, request.target)
        if fault is not None and fault.action is not None:
            fault.action()
        if fault is not None and fault.passthrough:
            fault = None
        if fault is not None and fault.never_answer:
            self._record(request, 0)
            self.server.stopping.wait()
            self.close_connection = True
            return
        if fault is not None and fault.drop_connection:
            self._record(request, 0)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            if fault is not None:
                response = service.fault_response(fault, request)
            elif request.chunked and request.content_length is None:
                response = service.fault_response(
                    Fault(service.name, "*", "", status=411), request)
            else:
                response = service.handle(request)
        except ConnectionError:
            self._record(request, 0)
            self.close_connection = True
            return
        except Exception:  # a bug in the emulator: say so loudly, answer 500
            traceback.print_exc(file=sys.stderr)
            response = service.fault_response(Fault(service.name, "*", "", status=500), request)
        self._finish_body(request, response)
        self._send(request, response)

    def _finish_body(self, request: Request, response: Response) -> None:
        """Drain what the service did not read, or close: the next request must start clean."""
        if response.close:
            return
        if request.chunked or request.remaining > DRAIN_LIMIT:
            response.close = True
            return
        try:
            for _ in request.iter_body():
                pass
        except (ConnectionError, OSError):
            response.close = True

    def _send(self, request: Request, response: Response) -> None:
        body = response.body
        length = len(body) if isinstance(body, bytes | bytearray) else response.length
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status not in (204, 304) or length:
            self.send_header("Content-Length", str(length or 0))
        if response.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        # Before the client can see the answer.
        self._record(request, response.status, response.headers.get("Retry-After"))
        self.end_headers()
        if request.method == "HEAD":
            return
        try:
            if isinstance(body, bytes | bytearray):
                self.wfile.write(body)
            else:
                for chunk in body:
                    self.wfile.write(chunk)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _record(self, request: Request, status: int, retry_after: str | None = None) -> None:
        self.server.record(
            RequestRecord(
                service=self.server.service.name,
                method=request.method,
                path=request.path,
                status=status,
                request_id=request.request_id,
                query=request.query,
                at=request.arrived,
                retry_after=retry_after,
            )
        )


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        context: ssl.SSLContext | None,
        faults: FaultSet,
        record: Callable[[RequestRecord], None],
    ) -> None:
        self.context = context  # None: plain http (the managed identity endpoint, as IMDS)
        self.service: Service
        self.faults = faults
        self.record = record
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self.stopping = threading.Event()  # releases requests held by a never-answer fault
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        host, self.server_port = self.server_address[:2]
        assert isinstance(host, str)  # server_address is now getsockname()'s: AF_INET, text
        self.server_name = host

    # TCPServer hands finish_request and shutdown_request its accepted socket; typeshed types
    # them for BaseServer, whose datagram servers pass (bytes, socket), hence the overrides.
    # `self: Self` because RequestHandlerClass is typed to be called with the server's Self.
    def finish_request(  # type: ignore[override]
        self: Self, request: socket.socket, client_address: tuple[str, int]
    ) -> None:
        # The TLS handshake runs here, on the connection's own thread, so a slow client never
        # holds up the accept loop.
        request.settimeout(_Handler.timeout)
        # Headers and body go out in separate writes; without NODELAY, Nagle plus delayed ACK
        # add ~40 ms to every response.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = (self.context.wrap_socket(request, server_side=True)
                    if self.context is not None else request)
        except (OSError, ssl.SSLError):
            return
        with self._conns_lock:
            self._conns.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self._conns_lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]  # as above
        with contextlib.suppress(OSError):
            request.close()

    def close_all(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Listener:
    """One port, bound at construction (so its URL is known), served once given a service."""

    def __init__(
        self,
        host: str,
        port: int,
        context: ssl.SSLContext | None,
        faults: FaultSet,
        record: Callable[[RequestRecord], None],
    ) -> None:
        self._server = _TLSServer((host, port), context, faults, record)
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self, service: Service) -> None:
        self._server.service = service
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # how fast stop() returns,
            name=f"emulator-{service.name}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        self._server.close_all()
