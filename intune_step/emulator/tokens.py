"""JWT-shaped tokens: the access tokens the emulator issues and the assertions it reads.

Access tokens are signed with an emulator-private HMAC key (alg HS256): nobody outside can
mint one, and clients can still decode the claims (tid, roles, appid, aud, exp) as they would a
real Entra token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from typing import Any


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a compact JWS; ValueError if it is not one."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise ValueError("not a three-part JWT")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("JWT header or payload is not base64url JSON") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("JWT header or payload is not a JSON object")
    return header, claims


class TokenMinter:
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self._key = os.urandom(32)

    def mint(
        self,
        *,
        audience: str,
        tid: str,
        appid: str,
        roles: tuple[str, ...],
        lifetime_s: int,
        appidacr: str,
        claims: dict[str, Any] | None = None,
    ) -> tuple[str, float]:
        """``claims`` replace the usual ones (a managed identity's oid, sub, v2 issuer...)."""
        now = int(time.time())
        exp = now + lifetime_s
        header = {"typ": "JWT", "alg": "HS256", "kid": "intune-step-emulator"}
        body: dict[str, Any] = {
            "aud": audience,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": exp,
            "aio": b64url(os.urandom(24)),
            "app_displayname": "intune-step emulator client",
            "appid": appid,
            "appidacr": appidacr,
            "idp": self.issuer,
            "idtyp": "app",
            "oid": str(uuid.uuid4()),
            "rh": "0.emulator.",
            "roles": list(roles),
            "sub": appid,
            "tenant_region_scope": "EU",
            "tid": tid,
            "uti": b64url(os.urandom(16)),
            "ver": "1.0",
        }
        body.update(claims or {})
        signing_input = (
            f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(body).encode())}"
        )
        sig = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64url(sig)}", float(exp)
