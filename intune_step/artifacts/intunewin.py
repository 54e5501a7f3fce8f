""".intunewin (Win32 content prep output) -> ``win32LobApp``.

The outer file is a stored ZIP holding ``IntuneWinPackage/Metadata/Detection.xml`` and the
already-encrypted payload ``IntuneWinPackage/Contents/<FileName>`` (docs/protocol.md,
".intunewin payload").
The payload is uploaded as it is, straight from its byte range inside the outer file, so it
must be stored, not deflated. Before saying yes, the reader streams that range once to check
the HMAC, decrypt, and compare the plaintext's SHA-256 and length with Detection.xml: a
payload that fails here would fail Intune's commit much later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import struct
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from intune_step.artifacts.base import AppMetadata, EncryptedContent
from intune_step.artifacts.safezip import open_zip, read_member
from intune_step.artifacts.xmlguard import parse_untrusted_xml
from intune_step.crypto import DIGEST_ALGORITHM, HEADER_SIZE, PROFILE, FileEncryptionInfo
from intune_step.crypto import encrypted_size as expected_encrypted_size
from intune_step.errors import ArtifactError

DETECTION = "intunewinpackage/metadata/detection.xml"
CONTENTS = "intunewinpackage/contents/"
MAX_DETECTION_BYTES = 1024 * 1024
LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, (skipped), name length, extra length
_CHUNK = 1024 * 1024
REPACKAGE = "repackage with IntuneWinAppUtil (Microsoft Win32 Content Prep Tool)"

# Detection.xml MsiExecutionContext -> win32LobAppMsiInformation.packageType
PACKAGE_TYPES = {"system": "PerMachine", "user": "PerUser"}


def read_intunewin(path: Path) -> AppMetadata:
    """Read a .intunewin and verify its encrypted payload against Detection.xml."""
    with open_zip(path, ".intunewin package") as archive:
        detection_name = _find(archive, lambda n: n.lower() == DETECTION)
        if detection_name is None:
            raise ArtifactError(
                f"{path.name}: IntuneWinPackage/Metadata/Detection.xml is missing",
                fix=REPACKAGE,
            )
        xml = read_member(archive, detection_name, path, limit=MAX_DETECTION_BYTES)
        root = parse_untrusted_xml(xml, f"{path.name}: Detection.xml", limit=MAX_DETECTION_BYTES)
        detection = _Detection(root, path)
        payload = _payload_info(archive, detection.file_name, path)
    offset = stored_data_offset(path, payload)
    info = detection.encryption_info()
    _check_sizes(path, detection.unencrypted_size, payload.file_size)
    _verify_payload(path, offset, payload.file_size, info, detection.unencrypted_size)
    msi = detection.msi_info()
    return AppMetadata(
        app_type="win32LobApp",
        file_name=path.name,  # as given, as the admin center shows an uploaded package
        identity=(msi or {}).get("MsiProductCode") or detection.name,
        version=(msi or {}).get("MsiProductVersion") or "",
        display_name=detection.name,
        publisher=(msi or {}).get("MsiPublisher") or None,
        content=EncryptedContent(
            path=path,
            offset=offset,
            size_encrypted=payload.file_size,
            size=detection.unencrypted_size,
            encryption_info=info,
        ),
        properties={
            "fileName": path.name,
            "setupFilePath": detection.setup_file,
            "msiInformation": _msi_information(msi, detection.name),
        },
        manifest=None,
        details={
            "setupFile": detection.setup_file,
            "payloadName": detection.file_name,
            "toolVersion": root.get("ToolVersion"),
            "description": detection.text("Description") or None,
            "msiInfo": msi,
        },
    )


# --- the outer ZIP -------------------------------------------------------------------------


def _find(archive: zipfile.ZipFile, match: Callable[[str], bool]) -> str | None:
    return next((name for name in archive.namelist() if match(name)), None)


def _payload_info(archive: zipfile.ZipFile, file_name: str, path: Path) -> zipfile.ZipInfo:
    wanted = CONTENTS + file_name.lower()
    name = _find(archive, lambda n: n.lower() == wanted)
    if name is None:
        raise ArtifactError(
            f"{path.name}: the encrypted payload IntuneWinPackage/Contents/{file_name} "
            "named by Detection.xml is missing",
            fix=REPACKAGE,
        )
    info = archive.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        raise ArtifactError(
            f"{path.name}: the payload {file_name} is compressed inside the .intunewin; it must "
            "be stored so it can be uploaded from its place unchanged",
            fix=f"{REPACKAGE}, which stores it; do not re-zip the .intunewin",
        )
    if info.flag_bits & 0x1:
        raise ArtifactError(f"{path.name}: the payload is ZIP-encrypted", fix=REPACKAGE)
    return info


def stored_data_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Where the bytes of stored member ``info`` start in ``path``.

    The central directory gives the local header's offset; the data follows that header's
    30 fixed bytes, the name and the (local, possibly different) extra field.
    """
    file_size = path.stat().st_size
    header = b""
    if 0 <= info.header_offset < file_size:
        with path.open("rb") as fp:
            fp.seek(info.header_offset)
            header = fp.read(LOCAL_HEADER.size)
    if len(header) < LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise ArtifactError(
            f"{path.name}: the local header of {info.filename} is missing (corrupt ZIP)",
            fix="check that the file was copied completely",
        )
    name_length: int
    extra_length: int
    _, name_length, extra_length = LOCAL_HEADER.unpack(header)
    offset = info.header_offset + LOCAL_HEADER.size + name_length + extra_length
    if offset + info.compress_size > file_size or info.compress_size != info.file_size:
        raise ArtifactError(
            f"{path.name}: {info.filename} runs past the end of the file (truncated)",
            fix="check that the file was copied completely",
        )
    return offset


class _Window(io.RawIOBase):
    """A read-only, seekable view of ``length`` bytes of a file starting at ``start``."""

    def __init__(self, path: Path, start: int, length: int) -> None:
        self._fp = path.open("rb")
        self._start = start
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        count = max(0, min(len(buffer), self._length - self._pos))
        self._fp.seek(self._start + self._pos)
        data = self._fp.read(count)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        self._fp.close()
        super().close()


def open_stored_member(path: Path, info: zipfile.ZipInfo) -> IO[bytes]:
    """A seekable file object over stored member ``info`` of the ZIP at ``path``."""
    return io.BufferedReader(_Window(path, stored_data_offset(path, info), info.file_size))


# --- Detection.xml -------------------------------------------------------------------------


class _Detection:
    """The fields of Detection.xml (PascalCase, no namespace, any order)."""

    def __init__(self, root: ET.Element, path: Path) -> None:
        self.root = root
        self.path = path
        if root.tag != "ApplicationInfo":
            raise self._fail(f"Detection.xml's root is <{root.tag}>, not <ApplicationInfo>")
        self.name = self._required("Name")
        self.file_name = self._required("FileName")
        self.setup_file = self._required("SetupFile")
        if "/" in self.file_name or "\\" in self.file_name or self.file_name in (".", ".."):
            raise self._fail(f"Detection.xml FileName {self.file_name!r} is not a plain name")
        size = self._required("UnencryptedContentSize")
        if not size.isdigit() or len(size) > 18:
            raise self._fail(f"Detection.xml UnencryptedContentSize {size[:20]!r} is not a size")
        self.unencrypted_size = int(size)

    def _fail(self, message: str) -> ArtifactError:
        return ArtifactError(f"{self.path.name}: {message}", fix=REPACKAGE)

    def text(self, tag: str, parent: ET.Element | None = None) -> str:
        return ((parent if parent is not None else self.root).findtext(tag) or "").strip()

    def _required(self, tag: str, parent: ET.Element | None = None) -> str:
        value = self.text(tag, parent)
        if not value:
            raise self._fail(f"Detection.xml has no {tag}")
        return value

    def encryption_info(self) -> FileEncryptionInfo:
        enc = self.root.find("EncryptionInfo")
        if enc is None:
            raise self._fail("Detection.xml has no EncryptionInfo")
        profile = self._required("ProfileIdentifier", enc)
        algorithm = self._required("FileDigestAlgorithm", enc)
        if profile != PROFILE or algorithm.upper() != DIGEST_ALGORITHM:
            raise self._fail(
                f"Detection.xml uses {profile}/{algorithm}; Intune accepts only "
                f"{PROFILE}/{DIGEST_ALGORITHM}"
            )
        return FileEncryptionInfo(
            encryption_key=self._key(enc, "EncryptionKey", 32),
            mac_key=self._key(enc, "MacKey", 32),
            initialization_vector=self._key(enc, "InitializationVector", 16),
            mac=self._key(enc, "Mac", 32),
            file_digest=self._key(enc, "FileDigest", 32),
        )

    def _key(self, enc: ET.Element, tag: str, length: int) -> bytes:
        text = self._required(tag, enc)
        try:
            value = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise self._fail(f"Detection.xml {tag} is not base64") from exc
        if len(value) != length:
            raise self._fail(f"Detection.xml {tag} is {len(value)} bytes, not {length}")
        return value

    def msi_info(self) -> dict[str, str] | None:
        msi = self.root.find("MsiInfo")
        if msi is None:
            return None
        return {child.tag: (child.text or "").strip() for child in msi}


def _msi_information(msi: dict[str, str] | None, name: str) -> dict[str, Any] | None:
    """win32LobAppMsiInformation from MsiInfo (MSEndpointMgr's and Microsoft's mapping)."""
    if not msi or not msi.get("MsiProductCode"):
        return None
    context = msi.get("MsiExecutionContext", "").lower()
    return {
        "packageType": PACKAGE_TYPES.get(context, "DualPurpose"),
        "productCode": msi.get("MsiProductCode"),
        "productName": name,
        "productVersion": msi.get("MsiProductVersion") or None,
        "publisher": msi.get("MsiPublisher") or None,
        "requiresReboot": msi.get("MsiRequiresReboot", "").lower() == "true",
        "upgradeCode": msi.get("MsiUpgradeCode") or None,
    }


# --- the payload ---------------------------------------------------------------------------


def _check_sizes(path: Path, unencrypted: int, encrypted: int) -> None:
    expected = expected_encrypted_size(unencrypted)
    if encrypted != expected:
        raise ArtifactError(
            f"{path.name}: Detection.xml UnencryptedContentSize {unencrypted} implies a "
            f"{expected}-byte payload, but the payload is {encrypted} bytes",
            fix=f"the .intunewin was altered or truncated; {REPACKAGE}",
        )


def _read_range(path: Path, offset: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as fp:
        fp.seek(offset)
        remaining = length
        while remaining:
            chunk = fp.read(min(_CHUNK, remaining))
            if not chunk:
                raise ArtifactError(
                    f"{path.name}: the payload is truncated",
                    fix="check that the file was copied completely",
                )
            remaining -= len(chunk)
            yield chunk


def _verify_payload(
    path: Path, offset: int, length: int, info: FileEncryptionInfo, unencrypted: int
) -> None:
    """One pass over the blob: HMAC, decryption, plaintext digest and length."""
    chunks = _read_range(path, offset, length)
    head = b""
    while len(head) < HEADER_SIZE:
        head += next(chunks)
    mac, iv, rest = head[:32], head[32:HEADER_SIZE], head[HEADER_SIZE:]
    if not hmac.compare_digest(mac, info.mac):
        raise _mismatch(path, "HMAC mismatch: the payload's MAC differs from Detection.xml Mac")
    if iv != info.initialization_vector:
        raise _mismatch(path, "the payload's IV differs from Detection.xml InitializationVector")
    signer = hmac.new(info.mac_key, iv, hashlib.sha256)
    decryptor = Cipher(algorithms.AES(info.encryption_key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    digest = hashlib.sha256()
    plain_length = 0
    for chunk in _chain(rest, chunks):
        signer.update(chunk)
        plain = unpadder.update(decryptor.update(chunk))
        digest.update(plain)
        plain_length += len(plain)
    if not hmac.compare_digest(signer.digest(), mac):
        raise _mismatch(path, "HMAC mismatch: the encrypted payload was altered or truncated")
    try:
        tail = unpadder.update(decryptor.finalize()) + unpadder.finalize()
    except ValueError as exc:
        raise _mismatch(path, "the payload does not decrypt with Detection.xml's key") from exc
    digest.update(tail)
    plain_length += len(tail)
    if plain_length != unencrypted or digest.digest() != info.file_digest:
        raise _mismatch(path, "the decrypted payload does not match Detection.xml FileDigest")


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _mismatch(path: Path, message: str) -> ArtifactError:
    return ArtifactError(
        f"{path.name}: {message}",
        fix=f"the .intunewin is damaged or its parts come from different builds; {REPACKAGE}",
    )
