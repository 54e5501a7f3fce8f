"""Where uploaded blobs live: the built-in disk store, or Azurite.

Both hand out SAS URLs of Intune's shape (``?sv=2017-04-17&sr=b&si=<n>&sig=<x>``) and read a
committed blob back as a stream for the commit checks.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from .azurite import AzuriteClient
from .blobstore import BlobStore
from .state import SasGrant


@dataclass(frozen=True)
class BlobReader:
    """A committed blob, ready to be streamed once."""

    length: int
    via_block_list: bool
    chunks: Iterator[bytes]


class BlobBackend(Protocol):
    def provision(self) -> str:
        """Create a new empty blob location; returns its key ``container/dir/name.bin``."""
        ...

    def grant(self, key: str, si: str, start: dt.datetime, expiry: dt.datetime) -> SasGrant: ...

    def uri(self, key: str, grant: SasGrant) -> str: ...

    def open(self, key: str) -> BlobReader | None:
        """The committed blob, or None when nothing was committed."""
        ...

    def delete(self, key: str) -> None: ...


def new_key() -> str:
    return f"{uuid.uuid4()}/{uuid.uuid4()}/{uuid.uuid4()}.intunewin.bin"


class BuiltinBackend:
    """Blocks on disk under the state dir; SAS checked by the emulator's own blob listener."""

    def __init__(self, store: BlobStore, base_url: str) -> None:
        self.store = store
        self.base_url = base_url
        self._secret = os.urandom(32)

    def provision(self) -> str:
        key = new_key()
        self.store.create(key)
        return key

    def grant(self, key: str, si: str, start: dt.datetime, expiry: dt.datetime) -> SasGrant:
        # Like a stored access policy: the signature covers the resource and the policy id only,
        # so extending the same policy keeps the same sig.
        mac = hmac.new(self._secret, f"{key}\n{si}".encode(), hashlib.sha256).digest()
        return SasGrant(si, base64.b64encode(mac).decode(), start, expiry)

    def uri(self, key: str, grant: SasGrant) -> str:
        sig = quote(grant.sig, safe="")
        return f"{self.base_url}/{key}?sv=2017-04-17&sr=b&si={grant.si}&sig={sig}"

    def open(self, key: str) -> BlobReader | None:
        blob = self.store.committed(key)
        if blob is None:
            return None
        return BlobReader(blob.length, blob.via_block_list, blob.chunks())

    def delete(self, key: str) -> None:
        self.store.delete(key)


class AzuriteBackend:
    """One Azurite container per file, with a stored access policy per grant."""

    def __init__(self, client: AzuriteClient) -> None:
        self.client = client

    def provision(self) -> str:
        key = new_key()
        container, _ = key.split("/", 1)
        self.client.create_container(container)
        return key

    def grant(self, key: str, si: str, start: dt.datetime, expiry: dt.datetime) -> SasGrant:
        container, blob = key.split("/", 1)
        # Setting the ACL replaces every earlier policy, so an old si stops working.
        self.client.set_policy(container, si, start, expiry, "rcw")
        return SasGrant(si, self.client.policy_signature(container, blob, si), start, expiry)

    def uri(self, key: str, grant: SasGrant) -> str:
        sig = quote(grant.sig, safe="")
        return f"{self.client.endpoint}/{key}?sv=2017-04-17&sr=b&si={grant.si}&sig={sig}"

    def open(self, key: str) -> BlobReader | None:
        container, blob = key.split("/", 1)
        blocks = self.client.committed_block_count(container, blob)
        if blocks is None:
            return None
        length, chunks = self.client.stream_blob(container, blob)
        return BlobReader(length, blocks > 0, chunks)

    def delete(self, key: str) -> None:
        container, _ = key.split("/", 1)
        self.client.delete_container(container)
