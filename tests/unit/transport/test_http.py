"""What the client trusts on each runner OS: the CA given, else the OS store, else certifi."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi
import pytest
import truststore

from intune_step.transport import http
from intune_step.transport.http import has_os_store, tls_context


def test_a_given_ca_file_wins_on_every_os() -> None:
    for platform in ("linux", "darwin", "win32"):
        context = tls_context(ca_file=Path(certifi.where()), platform=platform)
        assert not isinstance(context, truststore.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_windows_and_macos_use_the_os_store(platform: str) -> None:
    """truststore asks CryptoAPI (Windows) or the Security framework (macOS) per connection."""
    assert has_os_store(platform, exists=lambda path: False)
    assert isinstance(tls_context(platform=platform), truststore.SSLContext)


def test_linux_uses_the_os_store_when_a_ca_bundle_is_installed() -> None:
    assert has_os_store("linux", exists=lambda path: path == "/etc/ssl/certs/ca-certificates.crt")
    assert isinstance(tls_context(platform="linux"), truststore.SSLContext) == has_os_store()


def test_linux_without_a_ca_bundle_falls_back_to_certifi(monkeypatch: pytest.MonkeyPatch) -> None:
    """A slim container with no ca-certificates: the OS store would trust nothing."""
    nothing = ssl.DefaultVerifyPaths(None, None, "SSL_CERT_FILE", "/none", "SSL_CERT_DIR", "/none")
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: nothing)
    assert not has_os_store("linux", exists=lambda path: False)
    monkeypatch.setattr(http, "has_os_store", lambda platform: False)
    context = tls_context(platform="linux")
    assert not isinstance(context, truststore.SSLContext)
    assert len(context.get_ca_certs()) > 50  # certifi's bundle
