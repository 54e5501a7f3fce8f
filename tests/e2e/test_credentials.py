"""Sign in every way the step supports, then publish, against the emulator over TLS.

The emulator verifies certificate assertions against the registered certificate and accepts
federated tokens only for the configured subject; its tokens live 60 s, so MSAL asks for a new
one on every Graph call and a federated source must hand over a fresh token each time. Every
captured byte is scanned for the key, password, assertions and tokens.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from intune_step.emulator import Emulator, EmulatorConfig
from intune_step.emulator.config import READ_ROLE
from intune_step.samples.ipa import build_ipa

from ..certs import fake_jwt, github_claims, make_cert
from .conftest import Run, base_env, run_entrypoint
from .hosts import clean_env
from .oidc_standin import OidcStandIn

KIT = make_cert("intune-step e2e", seed=5)
SUBJECT = "repo:contoso/field-service:ref:refs/heads/main"
REQUEST_TOKEN = "runner-request-token-0123456789"
PFX_PASSWORD = "pfx-password-e2e"
CONNECTION = "dddddddd-2222-3333-4444-555555555555"
TRUST = {"client_certificates": (KIT.cert_pem.decode(),), "federated_subjects": (SUBJECT,),
         "token_lifetime_s": 60}
CONSUMED = ("::add-mask::", "##vso[task.setsecret]")  # lines the runner eats to mask
JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")  # any token or assertion, even unlisted


def key_lines() -> list[str]:
    """The private key's base64 lines: none may appear anywhere."""
    return [line for line in KIT.key_pem.decode().splitlines() if "-----" not in line]


def assert_nothing_leaked(emu: Emulator, printed: str, files: list[str],
                          extra: list[str]) -> None:
    shown = "\n".join(line for line in printed.splitlines() if not line.startswith(CONSUMED))
    secrets = [*emu.issued_tokens, *key_lines(), *extra]
    assert emu.issued_tokens, "no token was issued: the scan would prove nothing"
    for blob in [shown, *files]:
        assert JWT.search(blob) is None
        for secret in secrets:
            assert secret not in blob


def assert_published(emu: Emulator, run_code: int, printed: str, artifact: Path) -> dict:
    assert run_code == 0, printed
    apps = emu.apps()
    assert len(apps) == 1 and apps[0]["publishingState"] == "published"
    assert emu.committed_content(apps[0]["id"]) == artifact.read_bytes()
    return apps[0]


def login_posts(emu: Emulator) -> int:
    return sum(1 for r in emu.request_log if r.service == "login" and r.method == "POST")


def scan_run(emu: Emulator, run: Run, extra: list[str]) -> None:
    files = [run.summary, *(b.decode("utf-8", "replace") for b in run.files.values())]
    assert_nothing_leaked(emu, run.printed, files, extra)


@pytest.mark.e2e
@pytest.mark.emulator_config(**TRUST)
@pytest.mark.parametrize("way", ["secret", "pem-input", "pfx-file", "github-oidc",
                                 "assertion-file"])
def test_each_credential_signs_in_and_publishes(emulator: Emulator, tmp_path: Path,
                                                way: str) -> None:
    ipa = build_ipa(tmp_path / "app.ipa", bundle_id="com.contoso.field")
    inputs: dict[str, str] = {"client_secret": ""}
    env: dict[str, str] = {}
    extra = [emulator.client_secret]
    standin = None
    if way == "secret":
        inputs = {"credential": "secret"}  # the client secret from run_entrypoint
        extra = []
    elif way == "pem-input":
        inputs["certificate"] = (KIT.key_pem + KIT.cert_pem).decode()
    elif way == "pfx-file":
        (tmp_path / "certs").mkdir()
        (tmp_path / "certs" / "intune.pfx").write_bytes(KIT.pfx(PFX_PASSWORD))
        inputs.update(certificate_file="certs/intune.pfx", certificate_password=PFX_PASSWORD)
        extra.append(PFX_PASSWORD)
    elif way == "assertion-file":
        token = fake_jwt(github_claims(SUBJECT, lifetime=600))
        (tmp_path / "token.jwt").write_text(token)
        inputs["federated_token_file"] = "token.jwt"
        extra.append(token)
    if way == "github-oidc":  # nothing but the job's permission: auto-detected
        standin = OidcStandIn(emulator, SUBJECT, request_token=REQUEST_TOKEN)
        with standin:
            env = {"ACTIONS_ID_TOKEN_REQUEST_URL": f"{standin.base_url}/idtoken?api-version=2.0",
                   "ACTIONS_ID_TOKEN_REQUEST_TOKEN": REQUEST_TOKEN}
            run = run_entrypoint(emulator, tmp_path, "app.ipa", env=env, **inputs)
        extra += [REQUEST_TOKEN, *standin.issued]
    else:
        env = {"ACTIONS_ID_TOKEN_REQUEST_URL": "", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": ""}
        run = run_entrypoint(emulator, tmp_path, "app.ipa", env=env, **inputs)
    assert_published(emulator, run.returncode, run.printed, ipa)
    assert "Permission DeviceManagementApps.ReadWrite.All: granted" in run.stdout
    assert f"Signed in to tenant {emulator.tenant_id}" in run.stdout
    scan_run(emulator, run, extra)
    if way in ("pem-input", "pfx-file"):
        assert f"thumbprint {KIT.sha1_hex}" in run.stdout
    if standin is not None:
        # A fresh GitHub token for every token request MSAL made (tokens live 60 s here).
        assert len(standin.issued) == login_posts(emulator) > 1
        assert len(set(standin.issued)) == len(standin.issued)
        assert all(q["audience"] == "api://AzureADTokenExchange" for _, _, q in standin.requests)
        assert f"subject {SUBJECT}" in run.stdout
        masks = [line for line in run.stdout.splitlines() if line.startswith("::add-mask::")]
        assert all(f"::add-mask::{token}" in masks for token in standin.issued)


@pytest.mark.e2e
@pytest.mark.emulator_config(**TRUST)
def test_an_unregistered_certificate_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    other = make_cert("not uploaded", seed=6)
    build_ipa(tmp_path / "app.ipa")
    run = run_entrypoint(emulator, tmp_path, "app.ipa", client_secret="",
                         certificate=(other.key_pem + other.cert_pem).decode())
    assert run.returncode == 2
    assert "AADSTS700027" in run.stdout and "upload the certificate" in run.stdout
    assert emulator.write_requests() == []


@pytest.mark.e2e
def test_github_oidc_without_id_token_permission(emulator: Emulator, tmp_path: Path) -> None:
    build_ipa(tmp_path / "app.ipa")
    run = run_entrypoint(emulator, tmp_path, "app.ipa", client_secret="",
                         credential="github-oidc",
                         env={"ACTIONS_ID_TOKEN_REQUEST_URL": "",
                              "ACTIONS_ID_TOKEN_REQUEST_TOKEN": ""})
    assert run.returncode == 2, run.printed
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1
    assert "lacks `permissions: id-token: write`" in errors[0]
    assert "`permissions: {id-token: write, contents: read}`" in errors[0]
    assert emulator.request_log == []  # nothing was sent anywhere


@pytest.mark.e2e
@pytest.mark.emulator_config(federated_subjects=("sc://contoso/app/intune",
                                                 "project_path:contoso/app:ref_type:branch:"
                                                 "ref:main"))
def test_gitlab_id_token_and_azure_devops_service_connection(emulator: Emulator,
                                                             tmp_path: Path) -> None:
    """The real entry (`python -m intune_step.entry`) of each CI, as its runner starts it."""
    build_ipa(tmp_path / "app.ipa")
    common = {"INTUNE_FILE": "app.ipa", "INTUNE_CLIENT_ID": emulator.client_id,
              "INTUNE_AUTH_URL": emulator.auth_url, "INTUNE_GRAPH_URL": emulator.graph_url}
    gitlab_token = fake_jwt({**github_claims("project_path:contoso/app:ref_type:branch:ref:main"),
                             "iss": "https://gitlab.com"})
    gitlab = {**clean_env(emulator), **common, "GITLAB_CI": "true", "CI": "true",
              "CI_PROJECT_DIR": str(tmp_path), "INTUNE_FEDERATED_TOKEN_ENV": "AZURE_TOKEN",
              "AZURE_TOKEN": gitlab_token}
    proc = subprocess.run([sys.executable, "-m", "intune_step.entry"], cwd=tmp_path, env=gitlab,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "federated token in $AZURE_TOKEN" in proc.stdout
    dotenv = (tmp_path / "intune.env").read_text()
    assert "INTUNE_OUTPUT_APP_ID=" in dotenv
    assert_nothing_leaked(emulator, proc.stdout + proc.stderr, [dotenv], [gitlab_token])

    standin = OidcStandIn(emulator, "sc://contoso/app/intune", request_token="ado-access-token",
                          service_connection_id=CONNECTION)
    temp = tmp_path / "_agent_temp"
    temp.mkdir()
    with standin:
        ado = {**clean_env(emulator), **common, "TF_BUILD": "True",
               "AGENT_TEMPDIRECTORY": str(temp), "BUILD_SOURCESDIRECTORY": str(tmp_path),
               "SYSTEM_OIDCREQUESTURI": f"{standin.base_url}/oidctoken",
               "SYSTEM_ACCESSTOKEN": "ado-access-token",
               "INTUNE_SERVICE_CONNECTION_ID": CONNECTION}
        proc = subprocess.run([sys.executable, "-m", "intune_step.entry"], cwd=tmp_path,
                              env=ado, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Azure DevOps service connection {CONNECTION}" in proc.stdout
    assert standin.issued and all(m == "POST" for m, _, _ in standin.requests)
    assert_nothing_leaked(emulator, proc.stdout + proc.stderr, [],
                          ["ado-access-token", *standin.issued])
    assert len(emulator.apps()) == 1  # the second run updated the same app


@pytest.mark.e2e
def test_a_settings_file_with_two_named_entries(emulator: Emulator, tmp_path: Path) -> None:
    staging_id = str(uuid.uuid4())
    (tmp_path / "intune-step.yml").write_text(f"""\
settings:
  staging:
    client-id: {staging_id}
    auth-url: {emulator.auth_url}
    graph-url: {emulator.graph_url}
    client-secret-env: STAGING_SECRET
  production:
    client-id: {emulator.client_id}
    auth-url: {emulator.auth_url}
    graph-url: {emulator.graph_url}
    client-secret-env: PROD_SECRET
""")
    ipa = build_ipa(tmp_path / "app.ipa")
    env = {"PROD_SECRET": emulator.client_secret, "STAGING_SECRET": "staging-secret-value",
           # the emulator is not a Microsoft host: the pipeline lets the file name it
           "INTUNE_STEP_ALLOWED_HOSTS": httpx.URL(emulator.auth_url).host}
    blank = {"client_id": "", "client_secret": "", "auth_url": "", "graph_url": ""}
    run = run_entrypoint(emulator, tmp_path, "app.ipa", env=env, setting_name="production",
                         **blank)
    assert_published(emulator, run.returncode, run.printed, ipa)
    assert ("Setting 'production' from intune-step.yml: client-id, auth-url, graph-url, "
            "client-secret from $PROD_SECRET") in run.stdout
    assert "| Setting | production |" in run.summary
    scan_run(emulator, run, [emulator.client_secret, "staging-secret-value"])

    writes = len(emulator.write_requests())
    run = run_entrypoint(emulator, tmp_path, "app.ipa", env=env, setting_name="staging", **blank)
    assert run.returncode == 2  # staging's client-id is not this tenant's app: it was used
    assert "AADSTS700016" in run.stdout and "Setting: staging" in run.summary
    assert len(emulator.write_requests()) == writes
    scan_run(emulator, run, [emulator.client_secret, "staging-secret-value"])


@pytest.mark.e2e
@pytest.mark.parametrize("how", ["expected-tenant", "token-tid"])
def test_a_wrong_tenant_stops_before_any_graph_call(tmp_path: Path, how: str) -> None:
    other = str(uuid.uuid4())
    config = EmulatorConfig(token_tid=other if how == "token-tid" else None)
    with Emulator(config) as emu:
        build_ipa(tmp_path / "app.ipa")
        expected = other if how == "expected-tenant" else emu.tenant_id
        run = run_entrypoint(emu, tmp_path, "app.ipa", expected_tenant=expected)
        assert run.returncode == 2, run.printed
        assert "TenantMismatchError: signed in to tenant" in run.stdout
        assert [r for r in emu.request_log if r.service != "login"] == []


@pytest.mark.e2e
def test_a_missing_role_stops_before_any_graph_call(emulator: Emulator, tmp_path: Path) -> None:
    emulator.set_roles((READ_ROLE,))
    build_ipa(tmp_path / "app.ipa")
    run = run_entrypoint(emulator, tmp_path, "app.ipa")
    assert run.returncode == 2
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "MissingPermissionError" in errors[0]
    assert "API permissions > Add a permission > Microsoft Graph" in errors[0]
    assert [r for r in emulator.request_log if r.service != "login"] == []


def run_check(emu: Emulator, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = base_env(emu)
    environ.update({"INTUNE_CLIENT_ID": emu.client_id, "INTUNE_CLIENT_SECRET": emu.client_secret,
                    "INTUNE_AUTH_URL": emu.auth_url, "INTUNE_GRAPH_URL": emu.graph_url,
                    "ACTIONS_ID_TOKEN_REQUEST_URL": ""})
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "intune_step", "check"], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.e2e
def test_check_signs_in_and_checks_alone(emulator: Emulator, tmp_path: Path) -> None:
    proc = run_check(emulator, tmp_path, INTUNE_EXPECTED_TENANT=emulator.tenant_id)
    assert proc.returncode == 0, proc.stderr
    assert "Ready to publish" in proc.stderr and "Permission" in proc.stderr
    assert [r for r in emulator.request_log if r.service != "login"] == []
    emulator.set_roles(())
    proc = run_check(emulator, tmp_path)
    assert proc.returncode == 2
    assert "Error: MissingPermissionError:" in proc.stderr
    assert emulator.client_secret not in proc.stdout + proc.stderr


@pytest.mark.e2e
def test_a_graph_url_of_another_cloud_is_refused_before_any_request(emulator: Emulator,
                                                                    tmp_path: Path) -> None:
    build_ipa(tmp_path / "app.ipa")
    run = run_entrypoint(
        emulator, tmp_path, "app.ipa",
        auth_url=f"https://login.chinacloudapi.cn/{emulator.tenant_id}/oauth2/v2.0/token",
        graph_url="https://graph.microsoft.com")
    assert run.returncode == 2
    assert "is the public cloud's Graph, but auth-url signs in to China (21Vianet)" in run.stdout
    assert emulator.request_log == []
