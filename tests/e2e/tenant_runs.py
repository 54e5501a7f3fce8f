"""Helpers for runs to several tenants: a settings file naming every emulated tenant, and an
in-process run that keeps its outputs, summary and lines."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from intune_step.ci.local import LocalHost
from intune_step.commands.run import run_publish
from intune_step.emulator import Tenants


class CapturingHost(LocalHost):
    """A terminal host that also keeps what a CI would receive."""

    def __init__(self) -> None:
        super().__init__(environ={})
        self.outputs: dict[str, str] = {}
        self.summaries: list[str] = []
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def set_outputs(self, outputs: dict[str, str]) -> None:
        self.outputs.update(outputs)
        super().set_outputs(outputs)

    def summary(self, markdown: str) -> None:
        self.summaries.append(markdown)

    def error(self, message: str) -> None:
        self.errors.append(message)
        super().error(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        super().warning(message)

    def targets(self) -> dict[str, Any]:
        return dict(json.loads(self.outputs["targets"]))


def write_settings(workspace: Path, tenants: Tenants, names: list[str],
                   extra: Mapping[str, Mapping[str, Any]] | None = None,
                   max_tenants: int = 3,
                   rings: Mapping[str, Any] | None = None) -> dict[str, str]:
    """intune-step.yml with one setting per tenant and ``everywhere`` naming them all; the
    environment holding their secrets."""
    settings: dict[str, Any] = {}
    env = {}
    for name, emu in zip(names, tenants, strict=False):  # the first len(names) tenants
        variable = f"SECRET_{name.upper()}"
        settings[name] = {"client-id": emu.client_id, "auth-url": emu.auth_url,
                          "graph-url": emu.graph_url, "client-secret-env": variable}
        env[variable] = emu.client_secret
    targets = [{"setting": n, **(extra or {}).get(n, {})} for n in names]
    settings["everywhere"] = {"max-tenants": max_tenants, "targets": targets}
    data: dict[str, Any] = {"default": "everywhere", "settings": settings}
    if rings is not None:
        data["rings"] = dict(rings)
    (workspace / "intune-step.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    env.update({"INTUNE_STEP_ALLOWED_HOSTS": "127.0.0.1", "SSL_CERT_FILE": str(tenants.ca_path),
                "INTUNE_POLL_INTERVAL": "0.05", "INTUNE_LOCK_SETTLE_S": "0.3",
                "INTUNE_RETRY_BASE_DELAY": "0.1"})
    return env


def publish(workspace: Path, env: dict[str, str], **inputs: str) -> tuple[int, CapturingHost]:
    host = CapturingHost()
    raw: dict[str, str | None] = {"file": "dist/*"}
    raw.update(inputs)
    return run_publish(raw, host, workspace, env), host
