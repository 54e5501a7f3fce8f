"""`intune-step demo`: the whole flow on a newcomer's machine, against the emulator."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import click

from intune_step.ci.local import LocalHost
from intune_step.commands.run import mask_secret_inputs, run_publish


def run_demo(keep_running: bool = False) -> int:
    # Imported here: the publish path never needs the emulator or the sample builders.
    from intune_step.emulator import Emulator, EmulatorConfig
    from intune_step.samples.ipa import build_ipa

    with tempfile.TemporaryDirectory(prefix="intune-step-demo-") as tmp, \
            Emulator(EmulatorConfig()) as emu:
        sample = build_ipa(Path(tmp) / "Demo.ipa", bundle_id="com.example.demo",
                           version="1.0.0", build="1", display_name="Demo")
        click.echo(f"Emulator running: login {emu.auth_url}", err=True)
        click.echo(f"                  graph {emu.graph_url}", err=True)
        click.echo(f"Publishing the generated sample {sample.name}", err=True)
        host = LocalHost()
        inputs: dict[str, str | None] = {
            "file": str(sample),
            "client-id": emu.client_id,
            "client-secret": emu.client_secret,
            "auth-url": emu.auth_url,
            "graph-url": emu.graph_url,
            "setting-name": "demo",
        }
        mask_secret_inputs(inputs, host)
        trust_the_emulator = {**os.environ, "SSL_CERT_FILE": str(emu.ca_path)}
        code = run_publish(inputs, host, environ=trust_the_emulator)
        if code == 0:
            for app in emu.apps():
                click.echo(
                    f"Emulator now holds: {app['displayName']} ({app['@odata.type']}) "
                    f"{app.get('publishingState')}, committed content version "
                    f"{app.get('committedContentVersion')}",
                    err=True,
                )
        if keep_running:
            click.echo("Emulator stays up; press Ctrl-C to stop.", err=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return code
