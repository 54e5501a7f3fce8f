"""The one httpx client factory: explicit timeouts, a User-Agent, TLS trust from SSL_CERT_FILE.

MSAL, Graph and Blob calls all go through clients made here, so tests see every request.
"""

from __future__ import annotations

import os
import ssl

import httpx

from intune_step import __version__

USER_AGENT = f"intune-step/{__version__} (+https://github.com/intune-step/intune-step)"
TIMEOUT = httpx.Timeout(connect=15.0, read=120.0, write=120.0, pool=60.0)


def tls_context() -> ssl.SSLContext:
    """Trust SSL_CERT_FILE / SSL_CERT_DIR when set (CI proxies, the emulator), else the system."""
    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    try:
        import certifi  # httpx's own default trust store

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi ships with httpx
        return ssl.create_default_context()


def make_client(max_connections: int = 16) -> httpx.Client:
    return httpx.Client(
        headers={"User-Agent": USER_AGENT},
        timeout=TIMEOUT,
        verify=tls_context(),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        follow_redirects=False,
        trust_env=False,  # proxies and CA come from us, explicitly
    )


def safe_url(url: str | httpx.URL) -> str:
    """A URL fit for a message: no query string (SAS signatures live there)."""
    text = str(url)
    return text.split("?", 1)[0]
