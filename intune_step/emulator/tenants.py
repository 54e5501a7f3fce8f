"""Several tenants at once: one Emulator per tenant, each with its own app registration,
tokens, roles, apps and throttling, all trusting one CA.

In the real service Graph is one host for every tenant and routes by the token's ``tid``;
here each tenant has its own listeners, which keeps the Emulator one tenant deep and still
gives every tenant what the step can tell apart: its own authority (tenant id in the auth
URL), tokens whose ``tid`` and ``appid`` only its Graph accepts ("Invalid tenant" elsewhere),
its own permissions and its own throttling counts. A client of several tenants trusts the one
CA (``ca_path``) for all of them.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from .config import EmulatorConfig
from .emulator import Emulator
from .tls import CA_FILE, CA_KEY_FILE, CertificateAuthority


class Tenants:
    """``with Tenants([EmulatorConfig(), EmulatorConfig(roles=())]) as tenants: tenants[1]``."""

    def __init__(self, configs: Sequence[EmulatorConfig]) -> None:
        if not configs:
            raise ValueError("Tenants needs at least one EmulatorConfig")
        self._root = Path(tempfile.mkdtemp(prefix="intune-emu-tenants-"))
        ca_dir = self._root / "ca"
        ca_dir.mkdir()
        CertificateAuthority.load_or_create(ca_dir)
        self.ca_path = ca_dir / CA_FILE
        self.emulators: list[Emulator] = []
        for index, config in enumerate(configs):
            state = Path(config.state_dir) if config.state_dir else self._root / f"tenant-{index}"
            state.mkdir(parents=True, exist_ok=True)
            for name in (CA_FILE, CA_KEY_FILE):  # the Emulator loads the CA it finds there
                shutil.copy2(ca_dir / name, state / name)
            self.emulators.append(Emulator(replace(config, state_dir=state)))

    def start(self) -> Tenants:
        try:
            for emulator in self.emulators:
                emulator.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for emulator in self.emulators:
            emulator.stop()
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> Tenants:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __getitem__(self, index: int) -> Emulator:
        return self.emulators[index]

    def __iter__(self) -> Iterator[Emulator]:
        return iter(self.emulators)

    def __len__(self) -> int:
        return len(self.emulators)
