"""An APK's launcher icon, read through resources.arsc, becomes a new app's largeIcon."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from intune_step.emulator import Emulator
from intune_step.samples.apk import build_apk, icon_png

from .conftest import run_entrypoint


@pytest.mark.e2e
def test_new_apk_app_gets_the_largest_launcher_png(emulator: Emulator, tmp_path: Path) -> None:
    big = icon_png(192, (0xC0, 0x30, 0x30))  # xxxhdpi; the APK also holds a 48px mdpi PNG
    build_apk(tmp_path / "app.apk", package="com.contoso.icon", icon=big)
    run = run_entrypoint(emulator, tmp_path, "app.apk")
    assert run.returncode == 0, run.printed
    app = emulator.app(run.outputs["app-id"])
    assert app is not None and app["packageId"] == "com.contoso.icon"
    icon = app["largeIcon"]
    assert icon["type"] == "image/png"
    assert base64.b64decode(icon["value"]) == big
    assert "res/mipmap-xxxhdpi-v4/ic_launcher.png" in run.printed  # the log names the source
