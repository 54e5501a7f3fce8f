"""Connection failures named by host, cause and fix, from real sockets on this machine."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator

import httpx
import pytest

from intune_step.emulator.tls import CertificateAuthority, server_context
from intune_step.transport.diagnose import ConnectionProblem, diagnose, is_permanent
from intune_step.transport.http import make_client


def failure(url: str, **client: object) -> httpx.TransportError:
    with make_client(**client) as http:  # type: ignore[arg-type]
        try:
            http.get(url, timeout=5)
        except httpx.TransportError as exc:
            return exc
    raise AssertionError(f"{url} answered")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


@pytest.fixture
def untrusted_tls_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A TLS server whose certificate no trust store knows (the emulator's own CA)."""
    directory = tmp_path_factory.mktemp("tls")
    ca = CertificateAuthority.load_or_create(directory)
    context = server_context(ca.issue(directory, "server", ("127.0.0.1",)))
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        try:
            conn, _ = server.accept()
            with context.wrap_socket(conn, server_side=True):
                pass
        except (OSError, ssl.SSLError):
            pass  # the client hangs up when it cannot verify us: that is the point

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(timeout=5)


def test_refused_names_host_port_and_cause() -> None:
    port = free_port()
    problem = diagnose(failure(f"https://127.0.0.1:{port}/x"))
    assert problem is not None
    assert problem.sentence() == (f"cannot connect to 127.0.0.1:{port}: connection refused "
                                  "(nothing accepted the connection)")
    assert "port" in problem.fix and not problem.permanent


def test_dns_failure_names_the_host_to_check() -> None:
    # .invalid never resolves (RFC 6761), on any resolver.
    problem = diagnose(failure("https://login.microsoftonlin.invalid/t"))
    assert problem is not None
    assert problem.sentence().startswith(
        "cannot connect to login.microsoftonlin.invalid: DNS lookup failed (")
    assert "login.microsoftonlin.invalid for a typo" in problem.fix


def test_untrusted_certificate_points_at_the_ca_bundle(untrusted_tls_port: int) -> None:
    error = failure(f"https://127.0.0.1:{untrusted_tls_port}/x")
    problem = diagnose(error)
    assert problem is not None
    assert problem.cause == "TLS certificate verification failed"
    assert "certificate" in problem.detail  # OpenSSL's reason, e.g. "unable to get local issuer"
    assert "SSL_CERT_FILE" in problem.fix
    assert problem.permanent and is_permanent(error)


def test_timeouts_and_broken_connections_are_told_apart() -> None:
    request = httpx.Request("GET", "https://graph.example:8443/v1.0/x")
    connect = diagnose(httpx.ConnectTimeout("t", request=request))
    read = diagnose(httpx.ReadTimeout("t", request=request))
    broken = diagnose(httpx.RemoteProtocolError("gone", request=request))
    assert connect == ConnectionProblem(
        "graph.example:8443", "connection timed out", "no answer to the connection attempt",
        connect.fix if connect else "")
    assert read is not None and read.sentence() == (
        "no answer in time from graph.example:8443 (ReadTimeout)")
    assert broken is not None and broken.sentence() == (
        "the connection broke before an answer from graph.example:8443 (RemoteProtocolError)")
    assert diagnose(ValueError("not a transport error")) is None
