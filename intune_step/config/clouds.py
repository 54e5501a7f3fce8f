"""Which Graph host, token audiences and portals belong to which Entra login host.

See docs/protocol.md, "Clouds".

The login host in auth-url picks the cloud; graph-url may only move within it (GCC High and
DoD share a login host, so graph-url=https://dod-graph.microsoft.us selects DoD). A Graph host
of another cloud is refused before any request: tokens are not valid across clouds.
"""

from __future__ import annotations

from dataclasses import dataclass

from intune_step.errors import SettingsError


@dataclass(frozen=True)
class Cloud:
    name: str
    title: str
    login_hosts: tuple[str, ...]
    graph_url: str
    portal_url: str  # Intune admin center
    # Where app registrations are managed (permissions, certificates, federated credentials).
    entra_url: str
    # Audience of a federated token exchanged with this cloud's Entra
    # (docs/protocol.md, "Client assertions").
    token_exchange_audience: str

    @property
    def graph_host(self) -> str:
        return self.graph_url.removeprefix("https://")


PUBLIC_AUDIENCE = "api://AzureADTokenExchange"
USGOV_AUDIENCE = "api://AzureADTokenExchangeUSGov"
CHINA_AUDIENCE = "api://AzureADTokenExchangeChina"
USGOV_LOGIN = ("login.microsoftonline.us",)

CLOUDS: tuple[Cloud, ...] = (
    # Global, and M365 GCC (moderate), which keeps the worldwide endpoints.
    Cloud("public", "the public cloud", ("login.microsoftonline.com", "login.microsoft.com"),
          "https://graph.microsoft.com", "https://intune.microsoft.com",
          "https://entra.microsoft.com", PUBLIC_AUDIENCE),
    # GCC High is the default of the US Government login host; DoD needs its graph-url.
    Cloud("usgov", "US Government (GCC High)", USGOV_LOGIN, "https://graph.microsoft.us",
          "https://intune.microsoft.us", "https://portal.azure.us", USGOV_AUDIENCE),
    Cloud("usgov-dod", "US Government (DoD)", USGOV_LOGIN, "https://dod-graph.microsoft.us",
          "https://intune.microsoft.us", "https://portal.azure.us", USGOV_AUDIENCE),
    # 21Vianet: the Graph doc and MSAL name the first host, the newer Entra doc the second.
    Cloud("china", "China (21Vianet)", ("login.chinacloudapi.cn",
                                        "login.partner.microsoftonline.cn"),
          "https://microsoftgraph.chinacloudapi.cn", "https://intune.microsoftonline.cn",
          "https://portal.azure.cn", CHINA_AUDIENCE),
)


# Every Microsoft host a credential or a token may be sent to without an opt-in.
LOGIN_HOSTS = frozenset(host for cloud in CLOUDS for host in cloud.login_hosts)
GRAPH_HOSTS = frozenset(cloud.graph_host for cloud in CLOUDS)


def cloud_for_login_host(host: str) -> Cloud | None:
    """The default cloud of a login host (GCC High for the US Government host)."""
    host = host.lower()
    return next((c for c in CLOUDS if host in c.login_hosts), None)


def known_login_hosts() -> str:
    """Each cloud's login hosts, for a message: ``the public cloud: login.microsoftonline.com,
    ...; US Government: ...``."""
    by_hosts: dict[tuple[str, ...], str] = {}
    for cloud in CLOUDS:
        # GCC High and DoD share their login host: name the government, not one of them.
        title = "US Government" if cloud.login_hosts == USGOV_LOGIN else cloud.title
        by_hosts.setdefault(cloud.login_hosts, title)
    return "; ".join(f"{title}: {', '.join(hosts)}" for hosts, title in by_hosts.items())


def cloud_for_graph_host(host: str) -> Cloud | None:
    host = host.lower()
    return next((c for c in CLOUDS if c.graph_host == host), None)


def resolve_cloud(login_host: str, graph_host: str | None) -> Cloud | None:
    """The cloud of this login host and (optional) Graph host; None when neither is known.

    Raises SettingsError when both are Microsoft hosts of different clouds.
    """
    by_login = [c for c in CLOUDS if login_host.lower() in c.login_hosts]
    by_graph = cloud_for_graph_host(graph_host) if graph_host else None
    if by_login and by_graph and by_graph not in by_login:
        login = by_login[0]
        raise SettingsError(
            f"graph-url {by_graph.graph_url} is {by_graph.title}'s Graph, but auth-url signs in "
            f"to {login.title} ({login_host}); a token of one cloud is refused by another",
            fix=f"drop graph-url (the default is {login.graph_url}) or use the login host of "
                f"{by_graph.title} ({by_graph.login_hosts[0]}) in auth-url",
        )
    if by_graph:
        return by_graph
    return by_login[0] if by_login else None
