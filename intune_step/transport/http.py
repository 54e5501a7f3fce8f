"""The one httpx client factory: explicit timeouts, a User-Agent, the CA it is given.

MSAL, Graph and Blob calls all go through clients made here, so tests see every request.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx

from intune_step.version import __version__

USER_AGENT = f"intune-step/{__version__} (+https://github.com/intune-step/intune-step)"
TIMEOUT = httpx.Timeout(connect=15.0, read=120.0, write=120.0, pool=60.0)


def tls_context(ca_file: Path | None = None, ca_dir: Path | None = None) -> ssl.SSLContext:
    """Trust the given CA file or directory (a CI proxy, the emulator), else certifi's."""
    if ca_file or ca_dir:
        return ssl.create_default_context(cafile=ca_file, capath=ca_dir)
    try:
        import certifi  # httpx's own default trust store

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi ships with httpx
        return ssl.create_default_context()


def make_client(max_connections: int = 16, ca_file: Path | None = None,
                ca_dir: Path | None = None) -> httpx.Client:
    return httpx.Client(
        headers={"User-Agent": USER_AGENT},
        timeout=TIMEOUT,
        verify=tls_context(ca_file, ca_dir),
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
