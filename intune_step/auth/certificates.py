"""Read a client certificate (PEM key + certificate, or PFX/PKCS#12) for MSAL.

Entra signs in with an RSA key whose certificate was uploaded to the app registration. Every
problem is found here, before any request: wrong password, key and certificate that do not
belong together, an expired certificate, a key Entra cannot use.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from intune_step.errors import SettingsError

PEM_KEY = re.compile(
    rb"-----BEGIN (?:RSA |ENCRYPTED |EC )?PRIVATE KEY-----.+?-----END (?:RSA |ENCRYPTED |EC )?"
    rb"PRIVATE KEY-----", re.S)
PEM_MARK = b"-----BEGIN"
EXPIRY_WARNING = dt.timedelta(days=30)


@dataclass(frozen=True)
class ClientCertificate:
    """An RSA key and its certificate chain (leaf first), ready for MSAL."""

    key_pem: str = field(repr=False)  # PKCS#8, unencrypted: it only lives in memory
    chain: tuple[x509.Certificate, ...]

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def sha1_thumbprint(self) -> str:
        """Upper-case hex, as the app registration's 'Certificates & secrets' page shows it."""
        return self.leaf.fingerprint(hashes.SHA1()).hex().upper()  # Entra's x5t is SHA-1

    @property
    def chain_pem(self) -> str:
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in self.chain)

    def msal_credential(self, send_chain: bool) -> dict[str, str]:
        """MSAL's client_credential: the thumbprint signs RS256 with x5t; the chain adds x5c
        (subject name + issuer auth). MSAL sends the whole chain only when given both."""
        credential = {"private_key": self.key_pem, "thumbprint": self.sha1_thumbprint}
        if send_chain:
            credential["public_certificate"] = self.chain_pem
        return credential

    def describe(self) -> str:
        subject = self.leaf.subject.rfc4514_string() or "(no subject)"
        expires = self.leaf.not_valid_after_utc.strftime("%Y-%m-%d")
        return f"{subject}, thumbprint {self.sha1_thumbprint}, expires {expires}"

    def expires_soon(self, now: dt.datetime | None = None) -> bool:
        now = now or dt.datetime.now(dt.UTC)
        return self.leaf.not_valid_after_utc - now < EXPIRY_WARNING


def load_certificate(data: bytes, password: str | None, source: str,
                     now: dt.datetime | None = None) -> ClientCertificate:
    """PEM (key and certificates in one text) or PFX bytes; ``source`` names it in errors."""
    if PEM_MARK in data:
        cert = _from_pem(data, password, source)
    else:
        cert = _from_pfx(data, password, source)
    _check_validity(cert, source, now or dt.datetime.now(dt.UTC))
    return cert


def decode_inline(text: str, source: str) -> bytes:
    """An inline certificate: PEM text as is, anything else must be base64 of a PFX."""
    if "-----BEGIN" in text:
        return text.encode()
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError(
            f"{source} is neither PEM text nor base64 of a PFX file",
            fix="pass the PEM text (key and certificate), or `base64 -w0 cert.pfx`",
        ) from None


def _from_pem(data: bytes, password: str | None, source: str) -> ClientCertificate:
    keys = PEM_KEY.findall(data)
    if len(keys) != 1:
        found = "no private key" if not keys else f"{len(keys)} private keys"
        raise SettingsError(
            f"{source} holds {found}; it needs one private key and its certificate",
            fix="put the key and the certificate in one PEM (cat key.pem cert.pem), or use a PFX",
        )
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise SettingsError(
            f"{source} holds a private key but no readable certificate",
            fix="append the certificate (-----BEGIN CERTIFICATE-----) to the key's PEM",
        ) from None
    encrypted = b"ENCRYPTED" in keys[0] or b"Proc-Type: 4,ENCRYPTED" in keys[0]
    if encrypted and not password:
        raise SettingsError(f"the private key in {source} is encrypted",
                            fix="set certificate-password")
    try:
        key = serialization.load_pem_private_key(
            keys[0], password.encode() if encrypted and password else None)
    except (ValueError, TypeError):
        raise SettingsError(
            f"cannot read the private key in {source}"
            + (" (wrong certificate-password?)" if encrypted else ""),
            fix="check certificate-password" if encrypted else "export the key again as PEM",
        ) from None
    return _pair(key, certs, source)


def _from_pfx(data: bytes, password: str | None, source: str) -> ClientCertificate:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(
            data, password.encode() if password else None)
    except ValueError:
        hint = "wrong certificate-password" if password else "no certificate-password given"
        raise SettingsError(
            f"cannot open {source} as a PFX ({hint}, or not a PFX file)",
            fix="set certificate-password to the PFX password, or pass a PEM instead",
        ) from None
    if key is None or cert is None:
        raise SettingsError(f"the PFX in {source} lacks its private key or certificate",
                            fix="export the PFX with its private key")
    return _pair(key, [cert, *extra], source)


def _pair(key: object, certs: list[x509.Certificate], source: str) -> ClientCertificate:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SettingsError(
            f"the key in {source} is not an RSA key; Entra signs client assertions with RSA",
            fix="create an RSA certificate (e.g. openssl req -x509 -newkey rsa:2048 ...)",
        )
    public = key.public_key().public_numbers()
    leaf = next((c for c in certs if _rsa_numbers(c) == public), None)
    if leaf is None:
        raise SettingsError(f"no certificate in {source} belongs to its private key",
                            fix="pair the key with the certificate made from it")
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return ClientCertificate(key_pem, (leaf, *(c for c in certs if c is not leaf)))


def _rsa_numbers(cert: x509.Certificate) -> rsa.RSAPublicNumbers | None:
    """The certificate's RSA public numbers, or None when its key is not RSA."""
    public = cert.public_key()
    return public.public_numbers() if isinstance(public, rsa.RSAPublicKey) else None


def _check_validity(cert: ClientCertificate, source: str, now: dt.datetime) -> None:
    leaf = cert.leaf
    if now > leaf.not_valid_after_utc:
        raise SettingsError(
            f"the certificate in {source} expired on {leaf.not_valid_after_utc:%Y-%m-%d} "
            f"(thumbprint {cert.sha1_thumbprint})",
            fix="create a new certificate, upload it to the app registration and use it here",
        )
    if now < leaf.not_valid_before_utc:
        raise SettingsError(
            f"the certificate in {source} is valid only from "
            f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC", fix="check the runner's clock")
