"""A connection that fails names the host, the cause and the fix, through the GitHub entry.

Real sockets: the emulator's TLS certificate without its CA (as behind a corporate proxy whose
CA the runner lacks), a login host that does not resolve, a port where nothing listens.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from intune_step.emulator import Emulator
from intune_step.samples.ipa import build_ipa

from .conftest import Run, run_entrypoint


def error_line(run: Run) -> str:
    [line] = [line for line in run.printed.splitlines() if line.startswith("::error")]
    return line


@pytest.mark.e2e
def test_an_untrusted_certificate_points_at_ssl_cert_file(
    emulator: Emulator, tmp_path: Path
) -> None:
    build_ipa(tmp_path / "app.ipa")
    run = run_entrypoint(emulator, tmp_path, "app.ipa", env={"SSL_CERT_FILE": ""})
    assert run.returncode == 3, run.printed
    line = error_line(run)
    host = emulator.auth_url.split("/")[2]
    assert f"sign-in failed: cannot connect to {host}: TLS certificate verification failed" in line
    assert "SSL_CERT_FILE" in line
    assert "retrying" not in run.printed  # an untrusted certificate stays untrusted
    assert emulator.write_requests() == []


@pytest.mark.e2e
def test_a_login_host_that_does_not_resolve_is_named_with_the_known_hosts(
    emulator: Emulator, tmp_path: Path
) -> None:
    build_ipa(tmp_path / "app.ipa")
    tenant = emulator.auth_url.split("/")[3]
    typo = f"https://login.microsoftonlin.invalid/{tenant}/oauth2/v2.0/token"
    run = run_entrypoint(emulator, tmp_path, "app.ipa", auth_url=typo)
    assert run.returncode == 3, run.printed
    line = error_line(run)
    assert "cannot connect to login.microsoftonlin.invalid: DNS lookup failed" in line
    assert "login.microsoftonlin.invalid is not a known Entra login host" in line
    assert "login.microsoftonline.com" in line and "login.microsoftonline.us" in line
    assert "graph-url" not in line  # the old advice sent typos the wrong way
    # Without graph-url the same typo never leaves the runner: exit 2, before any request.
    offline = run_entrypoint(emulator, tmp_path, "app.ipa", auth_url=typo, graph_url="")
    assert offline.returncode == 2, offline.printed
    assert "is not a known Entra login host" in error_line(offline)
    assert emulator.write_requests() == []


@pytest.mark.e2e
def test_a_refused_login_port_is_named(emulator: Emulator, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    build_ipa(tmp_path / "app.ipa")
    tenant = emulator.auth_url.split("/")[3]
    run = run_entrypoint(emulator, tmp_path, "app.ipa",
                         auth_url=f"https://127.0.0.1:{port}/{tenant}/oauth2/v2.0/token")
    assert run.returncode == 3, run.printed
    line = error_line(run)
    assert f"cannot connect to 127.0.0.1:{port}: connection refused" in line
    assert "check the URL and port" in line
