"""Which Graph host and admin center belong to which Entra login host (spec §1.5)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cloud:
    name: str
    login_hosts: tuple[str, ...]
    graph_url: str
    portal_url: str


CLOUDS: tuple[Cloud, ...] = (
    Cloud("public", ("login.microsoftonline.com",), "https://graph.microsoft.com",
          "https://intune.microsoft.com"),
    # GCC High and DoD share the login host; GCC High's Graph is the default, DoD needs
    # graph-url=https://dod-graph.microsoft.us.
    Cloud("usgov", ("login.microsoftonline.us",), "https://graph.microsoft.us",
          "https://intune.microsoft.us"),
    Cloud("china", ("login.chinacloudapi.cn", "login.partner.microsoftonline.cn"),
          "https://microsoftgraph.chinacloudapi.cn", "https://intune.microsoftonline.cn"),
)


def cloud_for_login_host(host: str) -> Cloud | None:
    host = host.lower()
    for cloud in CLOUDS:
        if host in cloud.login_hosts:
            return cloud
    return None
