"""Secret hygiene on every host: nothing secret in any byte the step shows or writes.

Each CI adapter (GitHub, GitLab, Azure DevOps, Appcircle, and a terminal) runs its real entry
three times against the emulator: a certificate sign-in that publishes, a run that fails after
the upload started (the upload URL expired and can never be renewed), and a certificate whose
password is wrong. Then stdout, stderr, the output files and the summaries are scanned for:

- the client secret and the certificate password (given as inputs);
- the certificate's private key (its PEM lines, and the base64 of the PFX);
- every access token the emulator issued, and anything shaped like a JWT (the client
  assertions MSAL signs are JWTs too, and never printed);
- every SAS signature the step used (the ``sig=`` of each Azure Blob request it sent, in the
  emulator's log), raw and URL-decoded.

GitHub and Azure DevOps mask through a command the runner consumes (those lines are not shown);
GitLab, Appcircle and a terminal cannot mask at run time, so nothing may reach them at all.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from intune_step.emulator import Emulator, EmulatorConfig, Fault
from intune_step.samples.ipa import build_ipa

from ..certs import make_cert
from . import hosts
from .hosts import RUNNERS, HostRun, clean_env, settings

KIT = make_cert("intune-step secret scan", seed=11)
PFX_PASSWORD = "pfx-pa55word-secret-scan"
# The step's own knobs for short waits (docs/inputs.md "Tuning"; the lock's settle after a create).
QUICK = {"INTUNE_RETRY_BASE_DELAY": "0.01", "INTUNE_POLL_INTERVAL": "0.01",
         "INTUNE_LOCK_SETTLE_S": "0"}
JWT = re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]+")


def run_local(emu: Emulator, workspace: Path, inputs: dict[str, str]) -> HostRun:
    """The terminal: `python -m intune_step.entry` with INTUNE_* variables and no CI."""
    env = hosts.clean_env(emu)
    env.update({"INTUNE_" + name.replace("-", "_").upper(): v for name, v in inputs.items()})
    proc = subprocess.run([sys.executable, "-m", "intune_step.entry"], cwd=workspace, env=env,
                          capture_output=True, text=True, timeout=600)
    return HostRun("local", proc.returncode, proc.stdout, proc.stderr, outputs={}, errors=[],
                   registered_masks=[])


HOSTS: dict[str, Callable[[Emulator, Path, dict[str, str]], HostRun]] = {
    **RUNNERS, "local": run_local}
SUCCESS, BAD_INPUT = 0, 2
SERVICE = {"appcircle": 1}  # an Appcircle step passes or fails; the others keep our codes


def certificate_inputs(emu: Emulator, workspace: Path, password: str) -> dict[str, str]:
    (workspace / "certs").mkdir(exist_ok=True)
    (workspace / "certs" / "intune.pfx").write_bytes(KIT.pfx(PFX_PASSWORD))
    return {**settings(emu, "app.ipa"), "client-secret": "",
            "certificate-file": "certs/intune.pfx", "certificate-password": password}


def sas_signatures(emu: Emulator) -> list[str]:
    sigs = set()
    for record in emu.request_log:
        if record.service == "blob":
            for sig in parse_qs(record.query).get("sig", []):
                sigs.update({sig, sig.replace("+", "%2B").replace("/", "%2F")
                             .replace("=", "%3D")})
    return sorted(sigs)


def secrets_of(emu: Emulator) -> list[str]:
    key_lines = [line for line in KIT.key_pem.decode().splitlines() if "-----" not in line]
    pfx = base64.b64encode(KIT.pfx(PFX_PASSWORD)).decode()
    return [emu.client_secret, PFX_PASSWORD, *key_lines, pfx[:60], *emu.issued_tokens,
            *sas_signatures(emu)]


def scan(emu: Emulator, run: HostRun) -> None:
    shown = run.shown()
    blobs = {"log": shown, **{name: data.decode("utf-8", "replace")
                              for name, data in run.files.items()}}
    for where, text in blobs.items():
        found = JWT.search(text)
        assert found is None, (run.host, where, "a JWT-shaped string")
        for secret in secrets_of(emu):
            assert secret not in text, (run.host, where)
    if run.host in ("gitlab", "appcircle", "local"):  # no masking command: never printed
        for secret in secrets_of(emu):
            assert secret not in run.printed, run.host


@pytest.mark.e2e
@pytest.mark.parametrize("host", sorted(HOSTS))
def test_no_secret_in_anything_any_host_shows(host: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hosts, "clean_env", lambda emu: {**clean_env(emu), **QUICK})
    trust = EmulatorConfig(client_certificates=(KIT.cert_pem.decode(),), token_lifetime_s=60)
    with Emulator(trust) as emu:
        # 1. A certificate (PFX + password) signs in and the app is published.
        ok = tmp_path / "ok"
        build_ipa(ok / "app.ipa", bundle_id=f"com.example.scan.{host}")
        published = HOSTS[host](emu, ok, certificate_inputs(emu, ok, PFX_PASSWORD))
        assert published.returncode == SUCCESS, published.printed
        assert emu.apps() and sas_signatures(emu) and emu.issued_tokens

        # 2. The upload URL expires mid-upload and can never be renewed: a service failure
        #    whose messages pass by the SAS URL, the tokens and the Graph responses.
        failed = tmp_path / "failed"
        build_ipa(failed / "app.ipa", bundle_id=f"com.example.fail.{host}")
        emu.fail_renewal(times=50)
        emu.faults.add(Fault("blob", "PUT", r"comp=block&", passthrough=True,
                             action=emu.expire_sas_now))
        broken = HOSTS[host](emu, failed, {**settings(emu, "app.ipa"),
                                           "client-secret": emu.client_secret})
        assert broken.returncode == SERVICE.get(host, 3), broken.printed
        assert "AuthenticationFailed" in broken.printed

        # 3. A wrong certificate password: bad input, and that password is not echoed either.
        wrong = tmp_path / "wrong"
        build_ipa(wrong / "app.ipa")
        refused = HOSTS[host](emu, wrong, certificate_inputs(emu, wrong, PFX_PASSWORD + "x"))
        assert refused.returncode == SERVICE.get(host, BAD_INPUT), refused.printed
        assert PFX_PASSWORD + "x" not in refused.shown()

        for run in (published, broken, refused):
            scan(emu, run)
