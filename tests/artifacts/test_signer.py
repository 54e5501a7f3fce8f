"""Publisher names from signing certificates: signer.py, and apksig.py's APK Signing Block and
v1 signature, on APKs signed here with real keys (cryptography) and the AOSP fixtures."""

from __future__ import annotations

import struct
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import pkcs7

from intune_step.artifacts.apk import read_apk
from intune_step.artifacts.apksig import MAGIC
from intune_step.artifacts.signer import (
    from_certificates,
    from_der_certificates,
    from_pkcs7,
    name_from_dn,
)
from intune_step.samples import build_apk
from tests.artifacts.signing import certificate, der, v1_signature

V2, V3 = 0x7109871A, 0xF05368C0
FIXTURES = Path(__file__).parents[1] / "fixtures" / "third_party"


def prefixed(*items: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(i)) + i for i in items)


def scheme_value(*certs: bytes) -> bytes:
    """signers[ signer[ signed data[ digests, certificates, ...], signatures, public key ] ]"""
    signed_data = prefixed(prefixed(b"digest"), prefixed(*certs), prefixed())
    signer = prefixed(signed_data, prefixed(b"sig"), b"pubkey")
    return prefixed(prefixed(signer))


def with_signing_block(path: Path, pairs: dict[int, bytes]) -> Path:
    """Insert an APK Signing Block before the central directory and move the EOCD's offset."""
    data = path.read_bytes()
    eocd = data.rindex(b"PK\x05\x06")
    cd_offset = struct.unpack_from("<I", data, eocd + 16)[0]
    body = b"".join(struct.pack("<QI", len(v) + 4, k) + v for k, v in pairs.items())
    size = len(body) + 8 + 16
    block = struct.pack("<Q", size) + body + struct.pack("<Q", size) + MAGIC
    out = bytearray(data[:cd_offset] + block + data[cd_offset:])
    struct.pack_into("<I", out, eocd + len(block) + 16, cd_offset + len(block))
    path.write_bytes(bytes(out))
    return path


def with_member(path: Path, name: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(name, data)
    return path


# --- certificate subjects --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"CN": "Jane Doe", "O": "Contoso Ltd", "C": "US"}, "Contoso Ltd"),  # O first
        ({"CN": "Contoso Mobile"}, "Contoso Mobile"),  # else CN
        ({"CN": "Contoso", "O": "Unknown", "OU": "Unknown"}, "Contoso"),  # keytool blanks
        ({"CN": "Android Debug", "O": "Android", "C": "US"}, None),  # the SDK's debug key
        ({"CN": "Unknown"}, None),
        ({"O": "Internet Widgits Pty Ltd", "C": "AU"}, None),  # openssl req's default
        ({"CN": "Fabrikam Build", "O": "Internet Widgits Pty Ltd"}, "Fabrikam Build"),
    ],
)
def test_the_subject_names_the_publisher(fields: dict[str, str], expected: str | None) -> None:
    key, cert = certificate(**fields)
    signer = from_pkcs7(v1_signature(key, cert))
    assert (signer.name if signer else None) == expected
    if signer:
        assert signer.subject == cert.subject.rfc4514_string()


def test_the_leaf_is_chosen_from_a_chain_in_any_order() -> None:
    ca_key, ca = certificate(CN="Contoso Root CA", O="Contoso PKI")
    key, leaf = certificate(ca_key, ca.subject, CN="Builds", O="Contoso Apps")
    assert from_certificates([ca, leaf]).name == "Contoso Apps"  # type: ignore[union-attr]
    assert from_pkcs7(v1_signature(key, leaf, ca)).name == "Contoso Apps"  # type: ignore[union-attr]


# a PKCS#7 ContentInfo of type data (1.2.840.113549.1.7.1), not SignedData
PKCS7_DATA = bytes.fromhex("300f06092a864886f70d010701a0020400")


def test_no_warning_escapes_for_a_ber_ordered_set(recwarn: pytest.WarningsRecorder) -> None:
    key, cert = certificate(O="Contoso Ltd")
    _, stranger = certificate(O="Stranger Inc")
    signed = v1_signature(key, cert, stranger)
    swapped = signed.replace(der(cert) + der(stranger), der(stranger) + der(cert))
    assert from_pkcs7(swapped) is not None and not recwarn.list  # nothing printed in CI logs


@pytest.mark.parametrize(
    "data", [b"", b"\x30\x82\xff\xff", b"not der", bytes(2 * 1024 * 1024), PKCS7_DATA]
)
def test_garbage_gives_no_name(data: bytes) -> None:
    assert from_pkcs7(data) is None
    assert from_der_certificates([data]) is None
    assert from_certificates([]) is None


@pytest.mark.parametrize(
    ("dn", "expected"),
    [
        ("CN=Contoso Software, O=Contoso Corporation, C=US", "Contoso Corporation"),
        ('CN=A, O="Fabrikam, Inc.", C=US', "Fabrikam, Inc."),
        ('O="Say ""Hi"" Ltd"', 'Say "Hi" Ltd'),
        ("CN=Fabrikam", "Fabrikam"),
        ("CN=Unknown, O=Unknown", None),
        ("", None),
        ("garbage without fields", None),
    ],
)
def test_distinguished_names(dn: str, expected: str | None) -> None:
    assert name_from_dn(dn) == expected


# --- APKs --------------------------------------------------------------------------------


def test_a_v1_signed_apk_names_its_signer(tmp_path: Path) -> None:
    key, cert = certificate(CN="Release", O="Contoso Ltd")
    path = with_member(build_apk(tmp_path / "a.apk"), "META-INF/CERT.RSA", v1_signature(key, cert))
    meta = read_apk(path)
    assert meta.publisher == "Contoso Ltd"
    assert meta.details["signer"] == "O=Contoso Ltd,CN=Release"
    assert meta.details["signatureScheme"] == "v1"


def test_the_newest_scheme_names_the_signer(tmp_path: Path) -> None:
    key, old = certificate(CN="Old Key", O="Contoso Old")
    _, new = certificate(CN="New Key", O="Contoso New")
    _, mid = certificate(CN="Mid Key", O="Contoso V2")
    path = with_member(build_apk(tmp_path / "a.apk"), "META-INF/CERT.EC", v1_signature(key, old))
    with_signing_block(
        path,
        {
            0x42726577: b"\x00" * 64,  # verity padding: skipped
            V2: scheme_value(der(mid)),
            V3: scheme_value(der(new)),
        },
    )
    with zipfile.ZipFile(path) as archive:  # still a valid ZIP to an ordinary reader
        assert archive.testzip() is None
    meta = read_apk(path)
    assert (meta.publisher, meta.details["signatureScheme"]) == ("Contoso New", "v3")


def test_a_damaged_block_falls_back_to_v1(tmp_path: Path) -> None:
    key, cert = certificate(O="Contoso Ltd")
    path = with_member(build_apk(tmp_path / "a.apk"), "META-INF/CERT.RSA", v1_signature(key, cert))
    with_signing_block(path, {V2: scheme_value(b"\x30\x03abc")})  # not a certificate
    assert read_apk(path).publisher == "Contoso Ltd"


def test_an_unsigned_apk_has_no_publisher(tmp_path: Path) -> None:
    meta = read_apk(build_apk(tmp_path / "a.apk"))
    assert meta.publisher is None and "signer" not in meta.details


def test_an_unrelated_certificate_before_the_signer_is_passed_over() -> None:
    key, cert = certificate(O="Contoso Ltd")
    _, stranger = certificate(O="Stranger Inc")
    signed = v1_signature(key, cert, stranger)
    pair = der(cert) + der(stranger)
    assert signed.count(pair) == 1  # the builder writes the signer's certificate first
    signature = signed.replace(pair, der(stranger) + der(cert))  # as the AOSP file has it
    with warnings.catch_warnings():  # the swap breaks DER's SET order; BER allows it
        warnings.simplefilter("ignore", UserWarning)
        assert pkcs7.load_der_pkcs7_certificates(signature)[0] == stranger
    assert from_certificates([stranger, cert]).name == "Stranger Inc"  # type: ignore[union-attr]
    assert from_pkcs7(signature).name == "Contoso Ltd"  # type: ignore[union-attr]


def test_the_aosp_v2_block_agrees_with_openssl() -> None:
    # CN=rsa-2048 as `openssl x509 -inform DER -subject` prints the block's certificate
    meta = read_apk(FIXTURES / "v2-only-targetSandboxVersion-2.apk")
    assert (meta.publisher, meta.details["signatureScheme"]) == ("rsa-2048", "v2")


def test_fuzzed_signing_blocks_never_escape(tmp_path: Path, fuzz: Callable[..., int]) -> None:
    _, cert = certificate(O="Contoso")
    seed = with_signing_block(
        build_apk(tmp_path / "seed.apk"), {V2: scheme_value(der(cert))}
    ).read_bytes()
    target = tmp_path / "t.apk"

    def read(data: bytes) -> None:
        target.write_bytes(data)
        read_apk(target)

    assert fuzz(seed, read) > 10
