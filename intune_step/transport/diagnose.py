"""Why a connection failed, in words a pipeline owner can act on.

httpx reports a DNS failure, a refused port and a TLS verification failure alike as
``ConnectError``; the cause sits in the exception chain (``socket.gaierror``,
``ConnectionRefusedError``, ``ssl.SSLCertVerificationError``). This module reads the chain
once, so every client (Entra, Graph, Blob, the CI token services) names the host, the cause
and the fix the same way.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

CA_FIX = ("if a proxy or a private CA sits between the runner and {host}, point SSL_CERT_FILE "
          "(or SSL_CERT_DIR) at a CA bundle that includes its certificate")


@dataclass(frozen=True)
class ConnectionProblem:
    """One failed connection: to which host, why, and what to do."""

    host: str
    cause: str  # DNS lookup failed | TLS certificate verification failed | ...
    detail: str  # the resolver's, the OS's or OpenSSL's own words
    fix: str
    # A failure that another try in a few seconds cannot cure (a certificate the runner does
    # not trust stays untrusted): retrying would only delay the error.
    permanent: bool = False
    connecting: bool = True  # failed before the connection stood (else: it broke or stalled)

    def sentence(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        if self.connecting:
            return f"cannot connect to {self.host}: {self.cause}{detail}"
        return f"{self.cause} from {self.host}{detail}"


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _host_of(error: BaseException, fallback: str) -> str:
    if isinstance(error, httpx.RequestError):
        try:
            url = error.request.url
        except RuntimeError:  # raised without a request (a test double, a bare ConnectError)
            return fallback
        port = f":{url.port}" if url.port not in (None, 443) else ""
        return f"{url.host}{port}"
    return fallback


def diagnose(error: BaseException, host: str = "the service") -> ConnectionProblem | None:
    """The problem behind a transport error; None when it is not a connection failure."""
    if not isinstance(error, httpx.TransportError):
        return None
    host = _host_of(error, host)
    causes = list(_chain(error))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return ConnectionProblem(
                host, "TLS certificate verification failed",
                cause.verify_message or str(cause.reason or ""),
                CA_FIX.format(host=host), permanent=True)
        if isinstance(cause, socket.gaierror):
            return ConnectionProblem(
                host, "DNS lookup failed", cause.strerror or str(cause),
                f"check the host name {host.split(':')[0]} for a typo, and that the runner "
                "can resolve public names (DNS, proxy)")
        if isinstance(cause, ConnectionRefusedError):
            return ConnectionProblem(
                host, "connection refused", "nothing accepted the connection",
                "check the URL and port, and any firewall or proxy between the runner and it")
        if isinstance(cause, ssl.SSLError):
            return ConnectionProblem(
                host, "TLS handshake failed", cause.reason or str(cause),
                CA_FIX.format(host=host))
    if isinstance(error, httpx.ConnectTimeout):
        return ConnectionProblem(
            host, "connection timed out", "no answer to the connection attempt",
            "check that the runner may reach it (egress firewall rules, proxy settings)")
    if isinstance(error, httpx.TimeoutException):
        return ConnectionProblem(
            host, "no answer in time", type(error).__name__,
            "the service stalled; re-run the step later", connecting=False)
    if isinstance(error, httpx.ConnectError):
        return ConnectionProblem(host, "connection failed", str(error),
                                 "check network access from the runner")
    return ConnectionProblem(host, "the connection broke before an answer", type(error).__name__,
                             "re-run the step; check the network path if it persists",
                             connecting=False)


def is_permanent(error: BaseException) -> bool:
    """A connection failure that retrying cannot cure."""
    problem = diagnose(error)
    return problem is not None and problem.permanent
