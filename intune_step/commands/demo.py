"""`intune-step demo`: the whole flow on a newcomer's machine, against the emulator.

It publishes a generated sample app (with an icon), publishes the same file again to show
that a re-run changes nothing (`unchanged`), shows the job summary a CI would display, and
ends with what to do next.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import click

from intune_step.ci.local import LocalHost
from intune_step.commands.run import mask_secret_inputs, run_publish

NEXT_STEPS = (
    ("{cli} inspect YOUR.ipa", "what the step reads from your own artifact (offline)"),
    ("{cli} emulator", "keep an emulator running and publish your own file into it"),
    ('README.md "Set up Entra"', "the app registration a real tenant needs"),
    ('README.md "Use it in your CI"', "GitHub, GitLab, Azure DevOps and Appcircle recipes"),
    ("./scripts/test", "lint, type-check and run the test suite"),
)


def next_steps(cli: str) -> str:
    rows = [(command.format(cli=cli), meaning) for command, meaning in NEXT_STEPS]
    width = max(len(command) for command, _ in rows)
    return "\n".join(["Next:", *(f"  {c.ljust(width)}  {m}" for c, m in rows)])


def program() -> str:
    """How this user runs the CLI: `.venv/bin/intune-step` from scripts/demo, else its name."""
    invoked = Path(sys.argv[0] if sys.argv else "")
    if invoked.name != "intune-step":
        return "intune-step"
    if invoked.is_absolute() and invoked.is_relative_to(Path.cwd()):
        return str(invoked.relative_to(Path.cwd()))  # the same words scripts/demo typed
    return str(invoked)


class DemoHost(LocalHost):
    """A terminal host that keeps the job summary, so the demo can show it once."""

    def __init__(self) -> None:
        super().__init__()
        self.summaries: list[str] = []

    def summary(self, markdown: str) -> None:
        self.summaries.append(markdown)


def run_demo(keep_running: bool = False) -> int:
    # Imported here: the publish path never needs the emulator or the sample builders.
    from intune_step.emulator import Emulator, EmulatorConfig
    from intune_step.samples.apk import icon_png
    from intune_step.samples.ipa import build_ipa

    with (
        tempfile.TemporaryDirectory(prefix="intune-step-demo-") as tmp,
        Emulator(EmulatorConfig()) as emu,
    ):
        sample = build_ipa(
            Path(tmp) / "Demo.ipa",
            bundle_id="com.example.demo",
            version="1.0.0",
            build="1",
            display_name="Demo",
            icon=icon_png(120),
        )
        say(f"Emulator running: login {emu.auth_url}")
        say(f"                  graph {emu.graph_url}")
        host = DemoHost()
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
        say(f"\n== 1. Publishing the generated sample {sample.name}")
        code = run_publish(inputs, host, environ=trust_the_emulator)
        if code == 0:
            say(f"\n== 2. Publishing the same {sample.name} again: nothing to change")
            code = run_publish(inputs, host, environ=trust_the_emulator)
        if code == 0:
            say("")
            for app in emu.apps():
                say(
                    f"Emulator now holds: {app['displayName']} ({app['@odata.type']}) "
                    f"{app.get('publishingState')}, committed content version "
                    f"{app.get('committedContentVersion')}, "
                    f"icon {'yes' if app.get('largeIcon') else 'no'}"
                )
            if host.summaries:
                say("\nThe job summary a CI shows for the first run:\n")
                say(host.summaries[0].rstrip("\n"))
            say("\n" + next_steps(program()))
        if keep_running:
            say("Emulator stays up; press Ctrl-C to stop.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return code


def say(line: str) -> None:
    click.echo(line, err=True)
