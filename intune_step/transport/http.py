"""The one httpx client factory: explicit timeouts, a User-Agent, the trust it is given.

MSAL, Graph and Blob calls all go through clients made here, so tests see every request.
"""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Callable
from pathlib import Path

import certifi
import httpx
import truststore

from intune_step.version import __version__

USER_AGENT = f"intune-step/{__version__} (+https://github.com/intune-step/intune-step)"
TIMEOUT = httpx.Timeout(connect=15.0, read=120.0, write=120.0, pool=60.0)


def tls_context(ca_file: Path | None = None, ca_dir: Path | None = None,
                platform: str = sys.platform) -> ssl.SSLContext:
    """What to trust: the CA file or directory given (SSL_CERT_FILE / SSL_CERT_DIR: a proxy,
    the emulator), else the OS trust store, so a corporate CA installed on a self-hosted
    runner is trusted as the OS trusts it (truststore: Windows' CryptoAPI, macOS' Security
    framework, OpenSSL's system bundle on Linux), else certifi's bundle where Linux has none.
    """
    if ca_file or ca_dir:
        return ssl.create_default_context(cafile=ca_file, capath=ca_dir)
    if has_os_store(platform):
        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return ssl.create_default_context(cafile=certifi.where())


# Where Linux distributions keep the system CA bundle (as truststore looks for it).
LINUX_CA_FILES = ("/etc/ssl/cert.pem", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
                  "/etc/pki/tls/cert.pem", "/etc/ssl/certs/ca-certificates.crt",
                  "/etc/ssl/ca-bundle.pem")


def has_os_store(platform: str = sys.platform,
                 exists: Callable[[str], bool] = os.path.isfile) -> bool:
    """Windows and macOS always have one; Linux only with a CA bundle installed (a slim
    container may have none, and would then trust nothing)."""
    if platform in ("win32", "darwin"):
        return True
    defaults = ssl.get_default_verify_paths()
    if defaults.cafile and exists(defaults.cafile):
        return True
    return any(exists(path) for path in LINUX_CA_FILES)


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
