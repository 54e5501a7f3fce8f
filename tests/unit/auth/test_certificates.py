"""Client certificates: PEM and PFX read as Entra needs them, every mistake named up front."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from intune_step.auth.certificates import decode_inline, load_certificate
from intune_step.errors import SettingsError

from ...certs import NOW, make_cert


def test_pem_key_and_certificate_in_either_order() -> None:
    kit = make_cert("CN-pem")
    for data in (kit.key_pem + kit.cert_pem, kit.cert_pem + kit.key_pem):
        cert = load_certificate(data, None, "test.pem")
        assert cert.leaf == kit.cert
        assert cert.sha1_thumbprint == kit.cert.fingerprint(hashes.SHA1()).hex().upper()
        assert cert.key_pem.startswith("-----BEGIN PRIVATE KEY-----")
        assert "CN=CN-pem" in cert.describe() and cert.sha1_thumbprint in cert.describe()
        assert cert.key_pem not in repr(cert)


def test_msal_credential_with_and_without_the_chain() -> None:
    ca = make_cert("Contoso CA", seed=1, ca=True)
    leaf = make_cert("CN-leaf", issuer=ca)
    cert = load_certificate(ca.cert_pem + leaf.key_pem + leaf.cert_pem, None, "x")
    assert cert.chain == (leaf.cert, ca.cert)  # leaf first, whatever the file order
    plain = cert.msal_credential(send_chain=False)
    assert plain == {"private_key": cert.key_pem, "thumbprint": leaf.sha1_hex}
    chained = cert.msal_credential(send_chain=True)
    assert chained["public_certificate"].count("BEGIN CERTIFICATE") == 2


def test_encrypted_pem_key_needs_the_right_password() -> None:
    kit = make_cert()
    data = kit.encrypted_key_pem("open sesame") + kit.cert_pem
    assert load_certificate(data, "open sesame", "k.pem").leaf == kit.cert
    with pytest.raises(SettingsError, match="is encrypted") as missing:
        load_certificate(data, None, "k.pem")
    assert "Fix: set certificate-password" in missing.value.one_line()
    with pytest.raises(SettingsError, match="wrong certificate-password") as caught:
        load_certificate(data, "guess", "k.pem")
    assert "guess" not in caught.value.one_line()


@pytest.mark.parametrize("password", ["pfx-pass", None])
def test_pfx_with_and_without_a_password(password: str | None) -> None:
    ca = make_cert("Contoso CA", seed=1, ca=True)
    leaf = make_cert("CN-pfx", issuer=ca)
    cert = load_certificate(leaf.pfx(password), password, "app.pfx")
    assert cert.chain == (leaf.cert, ca.cert)
    assert cert.sha1_thumbprint == leaf.sha1_hex


def test_pfx_with_a_wrong_or_missing_password() -> None:
    pfx = make_cert().pfx("right")
    with pytest.raises(SettingsError, match="wrong certificate-password") as caught:
        load_certificate(pfx, "wrong", "app.pfx")
    assert "wrong" not in caught.value.one_line().replace("wrong certificate-password", "")
    with pytest.raises(SettingsError, match="no certificate-password given"):
        load_certificate(pfx, None, "app.pfx")
    with pytest.raises(SettingsError, match="not a PFX file"):
        load_certificate(b"\x00\x01garbage", None, "junk.bin")


def test_key_and_certificate_that_do_not_belong_together() -> None:
    with pytest.raises(SettingsError, match="no certificate in x belongs to its private key"):
        load_certificate(make_cert(seed=0).key_pem + make_cert(seed=1).cert_pem, None, "x")


def test_pem_needs_exactly_one_key_and_a_certificate() -> None:
    kit = make_cert()
    with pytest.raises(SettingsError, match="holds no private key"):
        load_certificate(kit.cert_pem, None, "x")
    with pytest.raises(SettingsError, match="no readable certificate"):
        load_certificate(kit.key_pem, None, "x")
    with pytest.raises(SettingsError, match="2 private keys"):
        load_certificate(kit.key_pem + kit.key_pem + kit.cert_pem, None, "x")


def test_only_rsa_keys_are_accepted() -> None:
    kit = make_cert(key=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(SettingsError, match="not an RSA key"):
        load_certificate(kit.key_pem + kit.cert_pem, None, "ec.pem")


def test_expired_and_not_yet_valid_certificates_are_refused() -> None:
    old = make_cert(not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=1))
    with pytest.raises(SettingsError, match="expired on") as caught:
        load_certificate(old.key_pem + old.cert_pem, None, "old.pem")
    assert old.sha1_hex in caught.value.one_line()
    future = make_cert(not_before=NOW + dt.timedelta(days=2))
    with pytest.raises(SettingsError, match="valid only from"):
        load_certificate(future.key_pem + future.cert_pem, None, "new.pem")
    soon = make_cert(not_after=NOW + dt.timedelta(days=10))
    assert load_certificate(soon.key_pem + soon.cert_pem, None, "soon.pem").expires_soon()
    assert not load_certificate(make_cert().key_pem + make_cert().cert_pem, None,
                                "x").expires_soon()


def test_inline_certificates_are_pem_text_or_base64_pfx() -> None:
    kit = make_cert()
    pem = (kit.key_pem + kit.cert_pem).decode()
    assert decode_inline(pem, "input") == pem.encode()
    pfx = kit.pfx("p")
    wrapped = base64.encodebytes(pfx).decode()  # line breaks, as `base64` prints by default
    assert decode_inline(wrapped, "input") == pfx
    with pytest.raises(SettingsError, match="neither PEM text nor base64"):
        decode_inline("certs/app.pfx", "the certificate input")
