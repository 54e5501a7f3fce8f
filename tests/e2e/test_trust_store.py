"""The OS trust store, end to end: with no SSL_CERT_FILE given to the step, httpx and MSAL
(over our httpx client) trust what the OS trusts, through truststore.

On Linux truststore reads OpenSSL's system locations, which the process's own SSL_CERT_FILE
variable moves; that is how the emulator's CA plays "a corporate CA installed on the runner"
here, while the step itself is given no CA (ca_file None: the OS store path).
"""

from __future__ import annotations

import ssl

import certifi
import httpx
import pytest
import truststore

from intune_step.auth.tokens import TokenProvider
from intune_step.config.settings import build_settings
from intune_step.emulator import Emulator
from intune_step.report import RecordingReporter
from intune_step.transport.http import make_client, tls_context


@pytest.mark.e2e
def test_httpx_and_msal_trust_a_ca_the_os_trusts(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(emulator.ca_path))  # the "OS" now trusts it
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    assert isinstance(tls_context(), truststore.SSLContext)
    settings = build_settings(
        {
            "client-id": emulator.client_id,
            "client-secret": emulator.client_secret,
            "auth-url": emulator.auth_url,
            "graph-url": emulator.graph_url,
        },
        {},
    )
    with make_client() as http:
        token = TokenProvider(settings, http, RecordingReporter()).token()
        answer = http.get(
            f"{emulator.graph_url}/beta/deviceAppManagement/mobileApps",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert token in emulator.issued_tokens
    assert answer.status_code == 200


@pytest.mark.e2e
def test_a_ca_the_os_does_not_trust_is_refused(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())  # public CAs only
    with make_client() as http, pytest.raises(httpx.ConnectError) as caught:
        http.get(f"{emulator.graph_url}/beta/deviceAppManagement/mobileApps")
    assert isinstance(
        caught.value.__context__ or caught.value.__cause__, ssl.SSLError
    ) or "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
