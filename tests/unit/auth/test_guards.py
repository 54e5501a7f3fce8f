"""The token's tenant and roles, checked before anything is uploaded."""

from __future__ import annotations

import pytest

from intune_step.auth.guards import (
    WRITE_ROLE,
    MissingPermissionError,
    TenantMismatchError,
    check_token,
    token_facts,
)
from intune_step.config.settings import Settings, build_settings

from ...certs import fake_jwt

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER = "0d5b0c8e-0000-4000-8000-000000000001"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"


def settings(login: str = "login.microsoftonline.com", **extra: str) -> Settings:
    return build_settings({"client-id": CLIENT_ID, "client-secret": "s3cret-value",
                           "auth-url": f"https://{login}/{TENANT}/oauth2/v2.0/token", **extra})


def token(tid: str = TENANT, roles: list[str] | None = None) -> str:
    return fake_jwt({"tid": tid, "appid": CLIENT_ID,
                     "roles": [WRITE_ROLE] if roles is None else roles})


def test_a_token_of_the_expected_tenant_with_the_role_passes() -> None:
    facts = check_token(token(), settings(**{"expected-tenant": TENANT.upper()}))
    assert facts.tenant == TENANT and facts.app_id == CLIENT_ID and WRITE_ROLE in facts.roles
    check_token(token(tid=OTHER), settings())  # no expected-tenant: any tenant


def test_another_tenant_is_refused() -> None:
    with pytest.raises(TenantMismatchError) as caught:
        check_token(token(tid=OTHER), settings(**{"expected-tenant": TENANT}))
    assert f"signed in to tenant {OTHER}, but expected-tenant is {TENANT}" in str(caught.value)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("roles", "held"),
    [(["DeviceManagementApps.Read.All"], "its token carries DeviceManagementApps.Read.All"),
     ([], "its token carries no application permissions")],
)
def test_a_missing_role_names_the_portal_steps(roles: list[str], held: str) -> None:
    with pytest.raises(MissingPermissionError) as caught:
        check_token(token(roles=roles), settings())
    line = caught.value.one_line()
    assert f"lacks the application permission {WRITE_ROLE}" in line and held in line
    assert (f"in https://entra.microsoft.com open App registrations > {CLIENT_ID} > API "
            "permissions > Add a permission > Microsoft Graph > Application permissions, tick "
            f"{WRITE_ROLE} > Add permissions, then 'Grant admin consent for <your tenant>'"
            in line)


def test_the_portal_of_the_cloud() -> None:
    with pytest.raises(MissingPermissionError) as caught:
        check_token(token(roles=[]), settings("login.microsoftonline.us"))
    assert "in https://portal.azure.us open App registrations" in caught.value.one_line()


def test_an_opaque_token() -> None:
    facts = check_token("opaque-token-value", settings())  # nothing to read: not refused
    assert facts == token_facts("opaque-token-value") and not facts.readable
    with pytest.raises(TenantMismatchError, match="cannot read the tenant"):
        check_token("opaque-token-value", settings(**{"expected-tenant": TENANT}))
