"""Checks on the access token right after sign-in, before anything touches Intune.

Entra puts the tenant (tid) and the granted application permissions (roles) into the token;
reading them turns a 403 halfway through an upload into a precise message up front. The
token's signature is not checked here: it came straight from Entra over TLS, and Graph
verifies it on every call.
"""

from __future__ import annotations

from dataclasses import dataclass

from intune_step.auth.oidc import jwt_claims
from intune_step.config.clouds import CLOUDS
from intune_step.config.credentials import MANAGED_IDENTITY
from intune_step.config.settings import Settings
from intune_step.config.text import GUID
from intune_step.errors import AuthError

WRITE_ROLE = "DeviceManagementApps.ReadWrite.All"
WRITE_ROLE_ID = "78145de6-330d-4800-a6ce-494ff2d33d07"  # its app role ID in Microsoft Graph


class TenantMismatchError(AuthError):
    """The token was issued by another tenant than expected-tenant."""


class MissingPermissionError(AuthError):
    """The app registration lacks the application permission publishing needs."""


@dataclass(frozen=True)
class TokenFacts:
    readable: bool
    tenant: str | None
    app_id: str | None
    roles: tuple[str, ...]
    object_id: str | None = None  # oid: the service principal's object ID


def token_facts(token: str) -> TokenFacts:
    claims = jwt_claims(token)
    if claims is None:
        return TokenFacts(False, None, None, ())
    roles = claims.get("roles")
    return TokenFacts(
        True,
        str(claims["tid"]) if claims.get("tid") else None,
        str(claims.get("appid") or claims.get("azp") or "") or None,
        tuple(str(r) for r in roles) if isinstance(roles, list) else (),
        str(claims["oid"]) if claims.get("oid") else None,
    )


def check_token(token: str, settings: Settings, require_write: bool = True) -> TokenFacts:
    """Raise when the token is of the wrong tenant or lacks the write permission (unless
    ``require_write`` is False: `check` reports the permissions itself)."""
    facts = token_facts(token)
    if settings.expected_tenant:
        if facts.tenant is None:
            raise TenantMismatchError(
                "cannot read the tenant of the access token to compare it with expected-tenant",
                fix="remove expected-tenant if this login host issues opaque tokens")
        if facts.tenant.lower() != settings.expected_tenant.lower():
            raise TenantMismatchError(
                f"signed in to tenant {facts.tenant}, but expected-tenant is "
                f"{settings.expected_tenant}",
                fix="check the tenant in auth-url (or the named setting) against expected-tenant")
    if settings.credential == MANAGED_IDENTITY:
        _check_identity_tenant(facts, settings)
    if require_write:
        require_write_role(facts, settings)
    return facts


def require_write_role(facts: TokenFacts, settings: Settings) -> None:
    """Raise when a readable token lacks the write permission, with the grant steps."""
    if facts.readable and WRITE_ROLE not in facts.roles:
        held = ", ".join(facts.roles) if facts.roles else "no application permissions"
        if settings.credential == MANAGED_IDENTITY:
            principal = f" (service principal {facts.object_id})" if facts.object_id else ""
            raise MissingPermissionError(
                f"{settings.principal}{principal} lacks the application permission {WRITE_ROLE} "
                f"(its token carries {held})", fix=identity_grant_steps(facts))
        raise MissingPermissionError(
            f"the app registration {settings.client_id} lacks the application permission "
            f"{WRITE_ROLE} (its token carries {held})", fix=grant_steps(settings))


def _check_identity_tenant(facts: TokenFacts, settings: Settings) -> None:
    """A managed identity signs in to its own tenant only: auth-url must name that one."""
    if facts.tenant and GUID.match(settings.tenant) and (
            facts.tenant.lower() != settings.tenant.lower()):
        raise TenantMismatchError(
            f"the managed identity belongs to tenant {facts.tenant}, but auth-url names tenant "
            f"{settings.tenant}",
            fix="set auth-url to the identity's tenant, or publish to the other tenant with "
                "credential: managed-identity-federation (docs/credentials.md)")


def identity_grant_steps(facts: TokenFacts) -> str:
    """No portal page grants an app role to a managed identity: Graph does."""
    principal = facts.object_id or "<the identity's object (principal) ID>"
    return (f"grant the Microsoft Graph app role {WRITE_ROLE} (app role ID {WRITE_ROLE_ID}) to "
            f"the identity's service principal {principal} with `az rest` (docs/credentials.md, "
            "\"Managed identity\", has the command; needs a Privileged Role Administrator), "
            "then re-run `intune-step check`")


def grant_steps(settings: Settings) -> str:
    """The exact portal clicks that grant the permission (admin consent included)."""
    cloud = next((c for c in CLOUDS if c.name == settings.cloud), CLOUDS[0])
    return (f"in {cloud.entra_url} open App registrations > {settings.client_id} > API "
            f"permissions > Add a permission > Microsoft Graph > Application permissions, tick "
            f"{WRITE_ROLE} > Add permissions, then 'Grant admin consent for <your tenant>' "
            "(needs a Privileged Role Administrator or Global Administrator); re-run "
            "`intune-step check`")
