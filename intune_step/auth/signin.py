"""Sign in and prove the token fit to publish: shared by `publish` and `check`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx

from intune_step.auth.credentials import build_credential
from intune_step.auth.guards import WRITE_ROLE, TokenFacts, check_token
from intune_step.auth.managed_identity import managed_credential, token_provider
from intune_step.auth.oidc import FETCH_RETRY
from intune_step.auth.tokens import ENTRA_RETRY, TokenProvider
from intune_step.config.credentials import MANAGED_IDENTITY, MANAGED_KINDS
from intune_step.config.settings import Settings
from intune_step.config.tuning import Tuning
from intune_step.report import Reporter


def sign_in(settings: Settings, http: httpx.Client, reporter: Reporter,
            environ: Mapping[str, str], workspace: Path,
            tuning: Tuning | None = None,
            require_write: bool = True) -> tuple[TokenProvider, TokenFacts]:
    """Build the credential, get a token, check tenant and permission; no Graph call yet.

    ``environ`` is only read for a federated credential (a CI's OIDC endpoint or variable) and
    a managed identity (which endpoint it has).
    """
    tuning = tuning or Tuning()
    if settings.credential in MANAGED_KINDS:
        credential = managed_credential(settings, http, reporter, environ,
                                        ENTRA_RETRY.tuned(tuning))
    else:
        credential = build_credential(settings, http, reporter, environ, workspace,
                                      FETCH_RETRY.tuned(tuning))
    if credential.kind == MANAGED_IDENTITY:
        reporter.info(f"Signing in as {credential.description}")
    else:
        reporter.info(f"Signing in as {settings.client_id} with {credential.description}")
    tokens = token_provider(settings, http, reporter, credential, ENTRA_RETRY.tuned(tuning))
    facts = check_token(tokens.token(), settings, require_write)
    tenant = f" to tenant {facts.tenant}" if facts.tenant else ""
    reporter.info(f"Signed in{tenant} as {settings.principal}")
    if facts.readable:
        if WRITE_ROLE in facts.roles:
            reporter.info(f"Permission {WRITE_ROLE}: granted")
    else:
        reporter.warning("the access token is not a readable JWT, so its permissions were not "
                         "checked before publishing")
    return tokens, facts
