"""Which managed identity signs in, and where this runner's managed identity endpoint is.

MSAL picks the endpoint from the process environment, in this order (msal 1.39
``managed_identity._obtain_token``): Service Fabric (``IDENTITY_ENDPOINT`` +
``IDENTITY_HEADER`` + ``IDENTITY_SERVER_THUMBPRINT``), App Service, Functions, Container Apps and
Automation (``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER``), Azure Machine Learning
(``MSI_ENDPOINT`` + ``MSI_SECRET``), Azure Arc (``IDENTITY_ENDPOINT`` + ``IMDS_ENDPOINT``, or
the Arc agent installed), else the Azure VM's instance metadata service (IMDS, also AKS nodes
and scale sets), whose address ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` overrides. This module
makes the same choice from the ``environ`` it is given, to say in an error which endpoint was
tried and what to check (docs/credentials.md, "Managed identity").
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
import msal

from intune_step.config.credentials import IdentityRef
from intune_step.errors import SettingsError
from intune_step.transport.http import safe_url

IMDS_HOST = "169.254.169.254"
IMDS_TOKEN_PATH = "/metadata/identity/oauth2/token"
ARC_ENDPOINT = "http://localhost:40342/metadata/identity/oauth2/token"
ARC_AGENTS = {"linux": "/opt/azcmagent/bin/himds",
              "win32": os.path.expandvars(r"${ProgramFiles}\AzureConnectedMachineAgent\himds.exe")}


@dataclass(frozen=True)
class IdentityEndpoint:
    """The managed identity endpoint MSAL will ask, as a person would name it."""

    name: str  # "the Azure instance metadata service (IMDS)"
    url: str
    chosen_by: str  # which variables (or their absence) chose it
    check: str  # what to check when it cannot be reached
    service_fabric: bool = False  # MSAL then needs a requests.Session (certificate pinning)

    def describe(self) -> str:
        return f"{self.name} at {safe_url(self.url)} ({self.chosen_by})"


@dataclass(frozen=True)
class ManagedIdentity:
    """Which identity (None: the system-assigned one) and the endpoint that hands out its
    tokens."""

    ref: IdentityRef | None
    endpoint: IdentityEndpoint

    @property
    def label(self) -> str:
        return self.ref.describe() if self.ref else "the system-assigned managed identity"

    def selector(self) -> msal.ManagedIdentity:
        if self.ref is None:
            return msal.SystemAssignedManagedIdentity()
        return msal.UserAssignedManagedIdentity(**{self.ref.form.replace("-", "_"): self.ref.value})


def identity_endpoint(environ: Mapping[str, str],
                      exists: Callable[[str], bool] = os.path.exists,
                      platform: str = sys.platform) -> IdentityEndpoint:
    """The endpoint MSAL's ``_obtain_token`` picks for this environment."""

    def has(*names: str) -> bool:
        return all(name in environ for name in names)

    if environ.get("AZUREPS_HOST_ENVIRONMENT", "").startswith("cloud-shell"):
        raise SettingsError(
            "Azure Cloud Shell has no managed identity: its tokens are your own user sign-in",
            fix="run the step on an Azure runner with a managed identity, or use another "
                "credential")
    if has("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT"):
        return IdentityEndpoint(
            "the Service Fabric managed identity endpoint", environ["IDENTITY_ENDPOINT"],
            "IDENTITY_ENDPOINT, IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT are set",
            "that the application has a managed identity in its manifest", service_fabric=True)
    if has("IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
        return IdentityEndpoint(
            "the App Service / Functions / Container Apps identity endpoint",
            environ["IDENTITY_ENDPOINT"], "IDENTITY_ENDPOINT and IDENTITY_HEADER are set",
            "that the app has a managed identity (Identity in the portal) and that "
            "IDENTITY_ENDPOINT and IDENTITY_HEADER reach the step unchanged")
    if has("MSI_ENDPOINT", "MSI_SECRET"):
        return IdentityEndpoint(
            "the Azure Machine Learning identity endpoint", environ["MSI_ENDPOINT"],
            "MSI_ENDPOINT and MSI_SECRET are set",
            "that the compute instance or cluster has a managed identity")
    if has("IDENTITY_ENDPOINT", "IMDS_ENDPOINT"):
        return _arc(environ["IDENTITY_ENDPOINT"], "IDENTITY_ENDPOINT and IMDS_ENDPOINT are set")
    agent = ARC_AGENTS.get(platform)
    if agent and exists(agent):
        return _arc(ARC_ENDPOINT, f"the Azure Arc agent is installed ({agent})")
    override = environ.get("AZURE_POD_IDENTITY_AUTHORITY_HOST", "").strip()
    host = override.strip("/") if override else f"http://{IMDS_HOST}"
    chosen = ("AZURE_POD_IDENTITY_AUTHORITY_HOST is set" if override else
              "no IDENTITY_ENDPOINT or MSI_ENDPOINT is set: the Azure VM endpoint")
    return IdentityEndpoint(
        "the Azure instance metadata service (IMDS)", host + IMDS_TOKEN_PATH, chosen,
        "run the step on an Azure VM, scale set or AKS node that has a managed identity, or on "
        "a service whose identity endpoint sets IDENTITY_ENDPOINT; a firewall or proxy must let "
        f"the runner reach {IMDS_HOST} directly")


def _arc(url: str, chosen: str) -> IdentityEndpoint:
    return IdentityEndpoint(
        "the Azure Arc identity endpoint", url, chosen,
        "that the Arc agent runs (azcmagent show) and that the runner's user may read its "
        "token files (Linux: member of the himds group; Windows: Hybrid agent extension "
        "applications group)")


def plain_http_allowed(url: httpx.URL) -> bool:
    """Managed identity endpoints are plain http, but only on the link-local IMDS address or on
    this machine; anything else over http would carry the identity's secret in the clear."""
    host = url.host
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or str(address) == IMDS_HOST
