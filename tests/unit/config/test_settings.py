"""Settings: the four setting fields, validated before any network call."""

from __future__ import annotations

import pytest

from intune_step.config.options import build_options
from intune_step.config.settings import build_settings, parse_bool
from intune_step.errors import SettingsError

CLIENT_ID = "11111111-2222-3333-4444-555555555555"


def raw(**overrides: str | None) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        "client-id": CLIENT_ID,
        "client-secret": "s3cret-value",
        "auth-url": "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
    }
    values.update(overrides)
    return values


def test_token_url_becomes_authority_and_public_graph() -> None:
    settings = build_settings(raw(**{"setting-name": "Prod"}))
    assert settings.authority == "https://login.microsoftonline.com/contoso.onmicrosoft.com"
    assert settings.tenant == "contoso.onmicrosoft.com"
    assert settings.graph_url == "https://graph.microsoft.com"
    assert settings.scope == "https://graph.microsoft.com/.default"
    assert settings.setting_name == "Prod"
    assert "s3cret-value" not in repr(settings)


def test_bare_authority_is_accepted() -> None:
    settings = build_settings(raw(**{"auth-url": "https://login.microsoftonline.us/"
                                                 "72f988bf-86f1-41af-91ab-2d7cd011db47"}))
    assert settings.graph_url == "https://graph.microsoft.us"
    assert settings.portal_url == "https://intune.microsoft.us"


@pytest.mark.parametrize(
    ("auth_url", "message"),
    [
        ("http://login.microsoftonline.com/t/oauth2/v2.0/token", "must use https"),
        ("login.microsoftonline.com/t/oauth2/v2.0/token", "must use https"),
        ("https://login.microsoftonline.com/t/oauth2/token", "is not /<tenant>/oauth2/v2.0/token"),
        ("https://login.microsoftonline.com/", "is not /<tenant>"),
        ("https://login.microsoftonline.com/common/oauth2/v2.0/token", "no usable tenant"),
        ("https://login.microsoftonline.com/t/oauth2/v2.0/token?x=1", "query"),
    ],
)
def test_malformed_auth_url_names_the_fix(auth_url: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        build_settings(raw(**{"auth-url": auth_url}))
    assert "login.microsoftonline.com/<tenant-id>/oauth2/v2.0/token" in caught.value.one_line()


def test_unknown_login_host_is_named_with_every_clouds_hosts() -> None:
    # A typo in the login host must not be answered with "set graph-url".
    typo = "https://login.microsoftonlin.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    with pytest.raises(SettingsError) as caught:
        build_settings(raw(**{"auth-url": typo}))
    line = caught.value.one_line()
    assert "login.microsoftonlin.com is not a known Entra login host" in line
    for host in ("login.microsoftonline.com", "login.microsoftonline.us",
                 "login.chinacloudapi.cn"):
        assert host in line
    assert "correct the host in auth-url" in line
    with pytest.raises(SettingsError, match="not a known Entra login host"):
        build_settings(raw(**{"auth-url": "https://127.0.0.1:8443/t/oauth2/v2.0/token"}))
    settings = build_settings(raw(**{"auth-url": "https://127.0.0.1:8443/t/oauth2/v2.0/token",
                                     "graph-url": "https://127.0.0.1:9443/"}))
    assert settings.graph_url == "https://127.0.0.1:9443"
    assert settings.portal_url is None


def test_graph_url_with_version_is_refused() -> None:
    with pytest.raises(SettingsError, match="must not include the API version"):
        build_settings(raw(**{"graph-url": "https://graph.microsoft.com/beta"}))


def test_missing_and_non_guid_values() -> None:
    with pytest.raises(SettingsError, match="missing client-secret"):
        build_settings(raw(**{"client-secret": "  "}))
    with pytest.raises(SettingsError, match="client-id is not a GUID"):
        build_settings(raw(**{"client-id": "my-app"}))


def test_options_and_strict_booleans(tmp_path) -> None:
    options = build_options({"file": "out/app.ipa", "dry-run": "true"}, workspace=tmp_path)
    assert options.file == tmp_path / "out/app.ipa"
    assert options.dry_run is True
    assert parse_bool("dry-run", "FALSE") is False
    with pytest.raises(SettingsError, match="true or false"):
        parse_bool("dry-run", "yes")
    with pytest.raises(SettingsError, match="app-id"):
        build_options({"file": "a.ipa", "app-id": "42"})
