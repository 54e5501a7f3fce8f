"""Each cloud's hosts, audiences and portals; a Graph host of another cloud is refused."""

from __future__ import annotations

import pytest

from intune_step.config.clouds import CLOUDS, cloud_for_login_host, resolve_cloud
from intune_step.config.settings import build_settings
from intune_step.errors import SettingsError

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def settings_for(login_host: str, graph_url: str | None = None):
    return build_settings({
        "client-id": "11111111-2222-3333-4444-555555555555", "client-secret": "s3cret-value",
        "auth-url": f"https://{login_host}/{TENANT}/oauth2/v2.0/token", "graph-url": graph_url,
    })


@pytest.mark.parametrize(
    ("login", "graph_url", "cloud", "graph", "portal", "audience"),
    [
        ("login.microsoftonline.com", None, "public", "https://graph.microsoft.com",
         "https://intune.microsoft.com", "api://AzureADTokenExchange"),
        ("login.microsoft.com", None, "public", "https://graph.microsoft.com",
         "https://intune.microsoft.com", "api://AzureADTokenExchange"),
        ("login.microsoftonline.us", None, "usgov", "https://graph.microsoft.us",
         "https://intune.microsoft.us", "api://AzureADTokenExchangeUSGov"),
        ("login.microsoftonline.us", "https://dod-graph.microsoft.us", "usgov-dod",
         "https://dod-graph.microsoft.us", "https://intune.microsoft.us",
         "api://AzureADTokenExchangeUSGov"),
        ("login.chinacloudapi.cn", None, "china", "https://microsoftgraph.chinacloudapi.cn",
         "https://intune.microsoftonline.cn", "api://AzureADTokenExchangeChina"),
        ("login.partner.microsoftonline.cn", None, "china",
         "https://microsoftgraph.chinacloudapi.cn", "https://intune.microsoftonline.cn",
         "api://AzureADTokenExchangeChina"),
    ],
)  # fmt: skip
def test_login_host_selects_graph_audience_and_portal(
    login: str, graph_url: str | None, cloud: str, graph: str, portal: str, audience: str
) -> None:
    settings = settings_for(login, graph_url)
    assert settings.cloud == cloud
    assert settings.graph_url == graph
    assert settings.scope == f"{graph}/.default"  # the token audience Entra issues for
    assert settings.portal_url == portal
    assert settings.federated_audience == audience
    assert settings.authority == f"https://{login}/{TENANT}"


@pytest.mark.parametrize(
    ("login", "graph_url", "words"),
    [
        ("login.chinacloudapi.cn", "https://graph.microsoft.com",
         ["the public cloud's Graph", "China (21Vianet)"]),
        ("login.microsoftonline.com", "https://graph.microsoft.us",
         ["US Government (GCC High)'s Graph", "the public cloud"]),
        ("login.microsoftonline.com", "https://dod-graph.microsoft.us/", ["DoD"]),
        ("login.microsoftonline.us", "https://microsoftgraph.chinacloudapi.cn", ["China"]),
    ],
)  # fmt: skip
def test_graph_of_another_cloud_is_refused(login: str, graph_url: str, words: list[str]) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_for(login, graph_url)
    line = caught.value.one_line()
    for word in words:
        assert word in line
    assert "Fix: drop graph-url" in line


def test_hosts_of_no_known_cloud() -> None:
    # A proxy in front of Graph keeps the login host's cloud (and its portal link).
    proxied = settings_for("login.microsoftonline.com", "https://graph-proxy.contoso.example")
    assert proxied.cloud == "public" and proxied.portal_url == "https://intune.microsoft.com"
    # A login host of no cloud (a test double) with a real Graph host: the Graph's cloud.
    assert resolve_cloud("127.0.0.1", "graph.microsoft.us").name == "usgov"
    assert resolve_cloud("127.0.0.1", "127.0.0.1") is None
    local = settings_for("127.0.0.1:8443", "https://127.0.0.1:9443")
    assert local.cloud is None and local.portal_url is None
    assert local.federated_audience == "api://AzureADTokenExchange"


def test_every_cloud_is_reachable_from_its_login_host() -> None:
    for cloud in CLOUDS:
        for host in cloud.login_hosts:
            assert resolve_cloud(host, cloud.graph_host) is cloud
            assert resolve_cloud(host.upper(), None) is cloud_for_login_host(host)
    assert cloud_for_login_host("LOGIN.MICROSOFTONLINE.US").name == "usgov"
