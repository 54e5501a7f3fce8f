"""Named settings: the right entry, secrets only from the variables it names, inputs on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from intune_step.config.named_settings import DEFAULT_FILE, apply_named_setting
from intune_step.config.settings import build_settings
from intune_step.errors import SettingsError
from intune_step.report import RecordingReporter

PROD_ID = "11111111-2222-3333-4444-555555555555"
STAGING_ID = "22222222-2222-3333-4444-555555555555"
FILE = f"""\
# Shared with other apps; no secrets here, only the names of the variables holding them.
default: staging
settings:
  production:
    client-id: {PROD_ID}
    auth-url: https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token
    client-secret-env: INTUNE_PROD_SECRET
    expected-tenant: 72f988bf-86f1-41af-91ab-2d7cd011db47
  staging:
    client-id: {STAGING_ID}
    auth-url: https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token
    graph-url: https://dod-graph.microsoft.us
    credential: certificate
    certificate-file: certs/staging.pfx
    certificate-password-env: STAGING_PFX_PASSWORD
    send-certificate-chain: true
"""
ENV = {"INTUNE_PROD_SECRET": "prod-secret-value", "STAGING_PFX_PASSWORD": "staging-pfx-pw"}


def workspace(tmp_path: Path, text: str = FILE, name: str = DEFAULT_FILE) -> Path:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(text)
    return tmp_path


def apply(tmp_path: Path, raw: dict, env: dict | None = None,
          reporter: RecordingReporter | None = None) -> dict:
    return apply_named_setting(raw, tmp_path, ENV if env is None else env,
                               reporter or RecordingReporter())


def test_setting_name_selects_its_entry_and_reads_its_secret(tmp_path: Path) -> None:
    reporter = RecordingReporter()
    merged = apply(workspace(tmp_path), {"setting-name": "production"}, reporter=reporter)
    settings = build_settings(merged)
    assert settings.setting_name == "production" and settings.client_id == PROD_ID
    assert settings.credential == "secret" and settings.client_secret == "prod-secret-value"
    assert settings.expected_tenant == "72f988bf-86f1-41af-91ab-2d7cd011db47"
    assert settings.settings_file == Path(DEFAULT_FILE)
    assert reporter.masked == ["prod-secret-value"]
    assert reporter.lines == ["Setting 'production' from intune-step.yml: client-id, auth-url, "
                              "expected-tenant, client-secret from $INTUNE_PROD_SECRET"]


def test_the_default_entry_and_its_certificate(tmp_path: Path) -> None:
    settings = build_settings(apply(workspace(tmp_path), {}))
    assert settings.setting_name == "staging" and settings.client_id == STAGING_ID
    assert settings.cloud == "usgov-dod" and settings.graph_url == "https://dod-graph.microsoft.us"
    assert settings.credential == "certificate"
    assert settings.certificate_file == Path("certs/staging.pfx")
    assert settings.certificate_password == "staging-pfx-pw"
    assert settings.send_certificate_chain is True


def test_explicit_inputs_override_fields_and_replace_the_credential(tmp_path: Path) -> None:
    reporter = RecordingReporter()
    merged = apply(workspace(tmp_path), {"setting-name": "staging",
                                         "graph-url": "https://graph.microsoft.us",
                                         "client-secret": "input-secret"},
                   env={}, reporter=reporter)  # the entry's password variable is not needed
    settings = build_settings(merged)
    assert settings.graph_url == "https://graph.microsoft.us"
    assert settings.credential == "secret" and settings.client_secret == "input-secret"
    assert settings.certificate_file is None and settings.certificate_password is None
    assert settings.client_id == STAGING_ID
    assert "given as inputs instead: graph-url" in reporter.lines[0]
    assert "the credential given as inputs replaces the entry's" in reporter.lines[0]


def test_explicit_password_overrides_the_entrys_variable(tmp_path: Path) -> None:
    merged = apply(workspace(tmp_path), {"certificate-password": "typed"}, env={})
    assert merged["certificate-password"] == "typed"
    assert merged["certificate-file"] == "certs/staging.pfx"


def test_without_a_file_setting_name_is_only_a_label(tmp_path: Path) -> None:
    raw = {"setting-name": "Prod", "client-id": PROD_ID}
    assert apply(tmp_path, raw) == raw


def test_a_file_without_default_and_no_setting_name_changes_nothing(tmp_path: Path) -> None:
    text = FILE.replace("default: staging\n", "")
    reporter = RecordingReporter()
    assert apply(workspace(tmp_path, text), {"client-id": PROD_ID},
                 reporter=reporter) == {"client-id": PROD_ID}
    assert reporter.lines == ["intune-step.yml is not used: no setting-name picks one of its "
                              "entries (production, staging)"]
    with pytest.raises(SettingsError, match="no entry is selected") as caught:
        apply(workspace(tmp_path, text), {"settings-file": DEFAULT_FILE})
    assert "production, staging" in caught.value.one_line()


def test_an_explicit_settings_file_elsewhere(tmp_path: Path) -> None:
    workspace(tmp_path, FILE, ".github/intune-step.yml")
    merged = apply(tmp_path, {"settings-file": ".github/intune-step.yml",
                              "setting-name": "production"})
    assert merged["client-id"] == PROD_ID
    assert build_settings(merged).settings_file == Path(".github/intune-step.yml")
    with pytest.raises(SettingsError, match=r"settings-file missing\.yml does not exist"):
        apply(tmp_path, {"settings-file": "missing.yml"})


def test_unknown_setting_name_lists_the_entries(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"'prod' is not in intune-step\.yml") as caught:
        apply(workspace(tmp_path), {"setting-name": "prod"})
    assert "use one of: production, staging" in caught.value.one_line()


def test_the_secret_variable_must_be_set(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"takes client-secret from \$INTUNE_PROD_SECRET, "
                       "which is not set") as caught:
        apply(workspace(tmp_path), {"setting-name": "production"}, env={})
    assert "INTUNE_PROD_SECRET: ${{ secrets.INTUNE_PROD_SECRET }}" in caught.value.one_line()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("client-secret: hunter2-value", "holds client-secret itself"),
        ("certificate: '-----BEGIN PRIVATE KEY-----'", "holds certificate itself"),
        ("certificate-password: pw-value", "holds certificate-password itself"),
        ("client-secret-env: $SECRET", "must name an environment variable"),
        ("clientid: x", "unknown key clientid"),
        ("graph-url: [a, b]", "must be a single value"),
    ],
)
def test_bad_entries(tmp_path: Path, entry: str, message: str) -> None:
    text = f"settings:\n  one:\n    {entry}\n"
    with pytest.raises(SettingsError, match=message.replace("$", r"\$")) as caught:
        apply(workspace(tmp_path, text), {"setting-name": "one"})
    line = caught.value.one_line()
    assert "hunter2-value" not in line and "pw-value" not in line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("settings:\n  one: {client-id: [\n", "not valid YAML at line"),
        ("- a\n- b\n", "needs a `settings:` mapping"),
        ("settings: {}\nprofiles: {}\n", "unknown keys: profiles"),
        ("default: two\nsettings:\n  one: {client-id: x}\n", "default 'two' is not an entry"),
        ("settings:\n  one: just-text\n", "is not a mapping"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        apply(workspace(tmp_path, text), {"setting-name": "one"})


HOSTILE_FILE = f"""\
settings:
  production:
    client-id: {PROD_ID}
    auth-url: https://login.evil.example/contoso/oauth2/v2.0/token
    graph-url: https://graph.evil.example
    client-secret-env: INTUNE_PROD_SECRET
  graph-only:
    client-id: {PROD_ID}
    auth-url: https://login.microsoftonline.com/contoso/oauth2/v2.0/token
    graph-url: https://graph.evil.example
    client-secret-env: INTUNE_PROD_SECRET
"""


@pytest.mark.parametrize(("name", "key", "host"), [
    ("production", "auth-url", "login.evil.example"),
    ("graph-only", "graph-url", "graph.evil.example"),
])
def test_a_settings_file_cannot_send_the_credential_to_another_host(
    tmp_path: Path, name: str, key: str, host: str
) -> None:
    reporter = RecordingReporter()
    with pytest.raises(SettingsError) as caught:
        apply(workspace(tmp_path, HOSTILE_FILE), {"setting-name": name}, reporter=reporter)
    assert f"({key})" in str(caught.value) and host in str(caught.value)
    assert f"INTUNE_STEP_ALLOWED_HOSTS={host}" in caught.value.fix
    assert reporter.masked == []  # refused before the secret was even read


def test_the_pipeline_can_allow_a_host_or_give_the_url_itself(tmp_path: Path) -> None:
    ws = workspace(tmp_path, HOSTILE_FILE)
    merged = apply_named_setting({"setting-name": "production"}, ws, ENV, RecordingReporter(),
                                 ("login.evil.example", "graph.evil.example"))
    assert merged["graph-url"] == "https://graph.evil.example"
    given = {"setting-name": "graph-only", "graph-url": "https://graph.microsoft.com"}
    assert apply(ws, given)["graph-url"] == "https://graph.microsoft.com"
