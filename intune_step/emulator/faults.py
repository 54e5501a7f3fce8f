"""Injected failures: answer a matching request with a canned status, or drop the connection."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

ServiceName = Literal["login", "graph", "blob", "identity"]


@dataclass
class Fault:
    """Answer matching requests with ``status`` (or drop the connection).

    ``path_regex`` is searched in the request target, path plus query string (so
    ``r"comp=block&"`` selects Put Block). ``after`` lets the first N matches through; the
    fault then fires ``times`` times (None: forever). ``body`` None gives the service's usual
    error body for ``status``; a dict is sent as JSON, str/bytes as they are. A 429 carries
    Retry-After only when ``headers`` says so.

    With ``never_answer`` the request is taken and no answer ever comes: the connection stays
    open, silent, until the emulator stops (a stalled service, which only the client's own
    deadline ends).

    ``action`` runs when the fault fires, before the answer (e.g. ``emu.expire_sas_now`` on the
    third block); with ``passthrough`` the request is then served as usual, so a rule can
    change the world at an exact point of a flow without answering for it.
    """

    service: ServiceName
    method: str
    path_regex: str
    status: int = 503
    times: int | None = 1
    after: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | str | bytes | None = None
    drop_connection: bool = False
    never_answer: bool = False
    action: Callable[[], object] | None = None
    passthrough: bool = False
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        self._pattern = re.compile(self.path_regex)

    def payload(self) -> bytes | None:
        """The canned body as sent: a dict as JSON, text as UTF-8; None: the service's own."""
        if isinstance(self.body, dict):
            return json.dumps(self.body).encode()
        if isinstance(self.body, str):
            return self.body.encode()
        return self.body

    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


class FaultSet:
    """Faults in the order they were added; the first live match wins."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        with self._lock:
            return len([f for f in self._faults if not f.exhausted()])

    def match(self, service: str, method: str, target: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.exhausted() or fault.service != service:
                    continue
                if fault.method not in ("*", method.upper()) or not fault._pattern.search(target):
                    continue
                fault.seen += 1
                if fault.seen <= fault.after:
                    continue
                fault.fired += 1
                return fault
        return None
