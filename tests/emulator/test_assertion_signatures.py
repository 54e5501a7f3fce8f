"""Certificate assertions are verified like Entra does once a certificate is registered: by
thumbprint and signature, or by a trusted subject and the x5c chain (SNI)."""

from __future__ import annotations

import base64
import time
import uuid

import jwt
import msal
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization

from intune_step.emulator import Emulator, EmulatorConfig
from intune_step.emulator.assertions import BAD_SIGNATURE, NOT_REGISTERED

from ..certs import CertKit, make_cert
from .helpers import Api

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
REGISTERED = make_cert("registered", seed=0)
OTHER = make_cert("other", seed=1)
CA = make_cert("Contoso Issuing CA", seed=2, ca=True)
SNI_LEAF = make_cert("intune-step.contoso.com", seed=3, issuer=CA)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assertion(emu: Emulator, signer: CertKit, claimed: CertKit | None = None, *,
              alg: str = "RS256", x5c: list[CertKit] | None = None) -> str:
    """A self-signed client assertion signed by ``signer``, naming ``claimed``'s thumbprint."""
    claimed = claimed or signer
    now = int(time.time())
    header = {"typ": "JWT"}
    if alg == "RS256":
        header["x5t"] = _b64url(claimed.cert.fingerprint(hashes.SHA1()))
    else:
        header["x5t#S256"] = _b64url(claimed.cert.fingerprint(hashes.SHA256()))
    if x5c:
        header["x5c"] = [base64.b64encode(k.cert.public_bytes(serialization.Encoding.DER)).decode()
                         for k in x5c]
    claims = {"aud": emu.auth_url, "iss": emu.client_id, "sub": emu.client_id,
              "jti": str(uuid.uuid4()), "nbf": now, "iat": now, "exp": now + 600}
    return jwt.encode(claims, signer.key, algorithm=alg, headers=header)


def post(api: Api, token: str):
    return api.token_response(client_secret="", client_assertion=token,
                              client_assertion_type=JWT_BEARER)


def reason(response) -> str:
    body = response.json()
    assert response.status_code == 401 and body["error_codes"] == [700027], response.text
    return body["error_description"]


@pytest.mark.emu(client_certificates=(REGISTERED.cert_pem.decode(),))
def test_a_registered_certificate_signs_in_with_rs256_and_ps256(emu: Emulator, api: Api) -> None:
    assert post(api, assertion(emu, REGISTERED)).status_code == 200
    assert post(api, assertion(emu, REGISTERED, alg="PS256")).status_code == 200


@pytest.mark.emu(client_certificates=(REGISTERED.cert_pem.decode(),))
def test_msal_with_a_registered_certificate(emu: Emulator) -> None:
    session = requests.Session()
    session.verify, session.trust_env = str(emu.ca_path), False
    app = msal.ConfidentialClientApplication(
        emu.client_id, authority=f"{emu.login_url}/{emu.tenant_id}", http_client=session,
        instance_discovery=False,
        client_credential={"private_key": REGISTERED.key_pem.decode(),
                           "thumbprint": REGISTERED.sha1_hex})
    assert "access_token" in app.acquire_token_for_client([f"{emu.graph_url}/.default"])


@pytest.mark.emu(client_certificates=(REGISTERED.cert_pem.decode(),))
def test_unregistered_or_forged_assertions_are_refused(emu: Emulator, api: Api) -> None:
    assert NOT_REGISTERED in reason(post(api, assertion(emu, OTHER)))
    # The registered thumbprint, but signed by another key.
    assert BAD_SIGNATURE in reason(post(api, assertion(emu, OTHER, REGISTERED)))
    # Unsigned: the secret-less assertion shape of the lenient mode no longer passes.
    unsigned = assertion(emu, REGISTERED).rsplit(".", 1)[0] + ".c2ln"
    assert BAD_SIGNATURE in reason(post(api, unsigned))
    assert emu.issued_tokens == []


@pytest.mark.emu(trusted_certificate_subjects=(SNI_LEAF.subject,))
def test_subject_name_and_issuer_needs_the_chain(emu: Emulator, api: Api) -> None:
    assert post(api, assertion(emu, SNI_LEAF, x5c=[SNI_LEAF, CA])).status_code == 200
    assert NOT_REGISTERED in reason(post(api, assertion(emu, SNI_LEAF)))  # no x5c
    # A chain whose links do not verify.
    assert NOT_REGISTERED in reason(post(api, assertion(emu, SNI_LEAF, x5c=[SNI_LEAF, OTHER])))
    # An untrusted subject, even with a valid chain of its own.
    untrusted = make_cert("evil.example", seed=1, issuer=CA)
    assert NOT_REGISTERED in reason(post(api, assertion(emu, untrusted, x5c=[untrusted, CA])))


def test_without_registered_certificates_signatures_are_not_checked(emu: Emulator,
                                                                     api: Api) -> None:
    assert post(api, assertion(emu, OTHER)).status_code == 200


def test_a_malformed_registered_certificate_fails_at_construction() -> None:
    with pytest.raises(ValueError):
        EmulatorConfig(client_certificates=("not a certificate",))
