"""One run, three tenants, two artifacts: one tenant fails and the run says exactly that; the
artifacts are read once however many tenants they go to; a re-run is unchanged everywhere."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from intune_step.emulator import Emulator, EmulatorConfig, Tenants
from intune_step.emulator.config import READ_ROLE, READ_WRITE_ROLE
from intune_step.errors import EXIT_OK, EXIT_SOME_TARGETS
from intune_step.publish import flow, prepare
from intune_step.samples.apk import build_apk
from intune_step.samples.ipa import build_ipa
from intune_step.upload.blob import BlockUploader

from ..runner_files import parse_github_output
from .conftest import CI_MARKERS, REPO
from .tenant_runs import publish, write_settings

NAMES = ["contoso", "fabrikam", "northwind"]
ALL_USERS = "#microsoft.graph.allLicensedUsersAssignmentTarget"


@pytest.mark.e2e
def test_two_artifacts_to_three_tenants_one_failing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    ipa = build_ipa(dist / "field.ipa", bundle_id="com.contoso.field", padding_bytes=200_000)
    apk = build_apk(dist / "field.apk", package="com.contoso.field")
    reads: Counter[str] = Counter()  # metadata reads, per file
    hashes: Counter[str] = Counter()  # reads of their own, only to hash
    uploads: Counter[str] = Counter()  # uploads, each encrypting with its own keys
    real_read, real_hash, real_upload = (prepare.read_artifact, flow.file_sha256,
                                         BlockUploader.upload)
    monkeypatch.setattr(prepare, "read_artifact",
                        lambda path: (reads.update([Path(path).name]), real_read(path))[1])
    monkeypatch.setattr(flow, "file_sha256",
                        lambda path: (hashes.update([path.name]), real_hash(path))[1])

    def counted_upload(self: BlockUploader, content, *args, **kwargs):  # type: ignore[no-untyped-def]
        uploads.update([content.path.name])
        return real_upload(self, content, *args, **kwargs)

    monkeypatch.setattr(BlockUploader, "upload", counted_upload)
    configs = [EmulatorConfig(), EmulatorConfig(), EmulatorConfig(roles=(READ_ROLE,))]
    with Tenants(configs) as tenants:
        # fabrikam's own publish input: the groups of each tenant have their own IDs.
        env = write_settings(tmp_path, tenants, NAMES, extra={"fabrikam": {
            "assignments": [{"intent": "available", "target": "all-users"}]}})
        code, host = publish(tmp_path, env)

        assert code == EXIT_SOME_TARGETS
        targets = host.targets()
        assert list(targets) == NAMES
        for name, emu in zip(NAMES[:2], tenants, strict=False):
            assert targets[name]["status"] == "succeeded" and targets[name]["exit-code"] == 0
            assert targets[name]["tenant"] == emu.tenant_id
            assert targets[name]["operation"] == ["created", "created"]
            assert sorted(a["displayName"] for a in emu.apps()) == ["Demo", "Demo"]
            assert {emu.committed_sha256(a["id"]) for a in emu.apps()} == {
                hashlib.sha256(f.read_bytes()).hexdigest() for f in (ipa, apk)}
        failed = targets["northwind"]
        assert failed["status"] == "failed" and failed["exit-code"] == 2
        assert "DeviceManagementApps.ReadWrite.All" in failed["error"]
        assert tenants[2].apps() == [] and tenants[2].write_requests() == []
        # Per-target assignments went to fabrikam only.
        assert all(a["assignments"] == [] for a in tenants[0].apps())
        assert all(a["assignments"][0]["target"]["@odata.type"] == ALL_USERS
                   for a in tenants[1].apps())
        [summary] = host.summaries
        assert "1 of 3 targets failed" in summary
        rows = [line for line in summary.splitlines() if line.startswith("| ") and "---" not in
                line][1:]
        assert [row.split(" | ")[0][2:] for row in rows] == NAMES
        assert "failed: PermissionDeniedError" in rows[2] or "failed:" in rows[2]
        assert "outputs" not in host.outputs and "app-id" not in host.outputs  # 3 targets
        # Read once: metadata once per file; no read just to hash (every upload hashed in
        # its own pass); one upload per file per tenant that took the content.
        assert reads == {"field.ipa": 1, "field.apk": 1}
        assert hashes == {}
        assert uploads == {"field.ipa": 2, "field.apk": 2}

        tenants[2].set_roles((READ_ROLE, READ_WRITE_ROLE))  # northwind grants the permission
        code, host = publish(tmp_path, env)
        assert code == EXIT_OK, host.errors
        operations = {name: t["operation"] for name, t in host.targets().items()}
        assert operations == {"contoso": ["unchanged"] * 2, "fabrikam": ["unchanged"] * 2,
                              "northwind": ["created"] * 2}

        reads.clear(), hashes.clear(), uploads.clear()
        code, host = publish(tmp_path, env)
        assert code == EXIT_OK
        assert all(t["operation"] == ["unchanged"] * 2 for t in host.targets().values())
        assert "Published to every target" in host.summaries[0]
        # Unchanged everywhere: each file was hashed by one read for all three tenants.
        assert reads == {"field.ipa": 1, "field.apk": 1}
        assert hashes == {"field.ipa": 1, "field.apk": 1}
        assert uploads == {}


@pytest.mark.e2e
def test_a_dry_run_plans_every_target_and_writes_nothing(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    build_ipa(dist / "field.ipa", bundle_id="com.contoso.field")
    with Tenants([EmulatorConfig(), EmulatorConfig()]) as tenants:
        env = write_settings(tmp_path, tenants, NAMES[:2])
        code, host = publish(tmp_path, env, file="dist/field.ipa", **{"dry-run": "true"})
        assert code == EXIT_OK, host.errors
        targets = host.targets()
        for name in NAMES[:2]:
            assert targets[name]["operation"] == "dry-run"
            assert targets[name]["plan"]["operation"] == "create"
        assert all(emu.write_requests() == [] and emu.apps() == [] for emu in tenants)
        # One target left: its flat outputs are there too, as a one-tenant run sets them.
        env = write_settings(tmp_path, tenants, NAMES[:1])
        code, host = publish(tmp_path, env, file="dist/field.ipa", **{"dry-run": "true"})
        assert code == EXIT_OK and host.outputs["operation"] == "dry-run"
        assert list(host.targets()) == ["contoso"]
        # The install gate runs for one tenant: asked of several, the run stops before any
        # sign-in and says how to gate each one.
        env = write_settings(tmp_path, tenants, NAMES[:2])
        seen = [len(emu.request_log) for emu in tenants]
        code, host = publish(tmp_path, env, file="dist/field.ipa",
                             **{"wait-for-installs": "true"})
        assert code == 2 and len(host.errors) == 1, host.errors
        assert "wait-for-installs runs for one tenant" in host.errors[0]
        assert "intune-step status" in host.errors[0]
        assert [len(emu.request_log) for emu in tenants] == seen


@pytest.mark.e2e
def test_the_github_entry_reports_every_target(tmp_path: Path) -> None:
    """Through the container's entry: the `targets` output, the summary and exit 6 as a
    workflow sees them, and no tenant's secret in anything the step wrote or printed."""
    dist = tmp_path / "dist"
    dist.mkdir()
    build_apk(dist / "field.apk", package="com.contoso.field")
    configs = [EmulatorConfig(), EmulatorConfig(roles=(READ_ROLE,))]
    with Tenants(configs) as tenants:
        settings_env = write_settings(tmp_path, tenants, NAMES[:2])
        env = {k: v for k, v in os.environ.items() if not k.startswith(CI_MARKERS)}
        env.pop("SSL_CERT_DIR", None)
        output, summary = tmp_path / "github_output", tmp_path / "summary.md"
        env.update(settings_env)
        env.update({"PYTHONPATH": str(REPO), "GITHUB_ACTIONS": "true", "CI": "true",
                    "GITHUB_WORKSPACE": str(tmp_path), "GITHUB_OUTPUT": str(output),
                    "GITHUB_STEP_SUMMARY": str(summary), "INPUT_FILE": "dist/field.apk"})
        proc = subprocess.run([sys.executable, str(REPO / "entrypoint.py")], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == EXIT_SOME_TARGETS, proc.stdout + proc.stderr
        outputs = parse_github_output(output)
        targets = json.loads(outputs["targets"])
        assert targets["contoso"]["operation"] == "created"
        assert targets["fabrikam"]["status"] == "failed"
        assert "app-id" not in outputs
        assert "1 of 2 targets failed" in summary.read_text()
        errors = [line for line in proc.stdout.splitlines() if line.startswith("::error")]
        assert len(errors) == 1 and "[fabrikam]" in errors[0]
        written = proc.stdout + proc.stderr + output.read_text() + summary.read_text()
        masked = [line for line in written.splitlines() if line.startswith("::add-mask::")]
        assert {f"::add-mask::{emu.client_secret}" for emu in tenants} <= set(masked)
        for emu in tenants:  # registered with the runner, and nowhere else
            assert written.count(emu.client_secret) == 1


@pytest.mark.e2e
def test_cancelled_while_publishing_to_several_tenants_leaves_no_app(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    build_ipa(dist / "field.ipa", bundle_id="com.contoso.field", padding_bytes=1_500_000)
    config = EmulatorConfig(blob_latency_s=0.2)
    with Tenants([config, config]) as tenants:
        settings_env = write_settings(tmp_path, tenants, NAMES[:2])
        env = {k: v for k, v in os.environ.items() if not k.startswith(CI_MARKERS)}
        env.pop("SSL_CERT_DIR", None)
        env.update(settings_env)
        env.update({"PYTHONPATH": str(REPO), "INTUNE_BLOCK_SIZE": str(64 * 1024),
                    "INTUNE_BLOCKS_IN_FLIGHT": "2"})
        proc = subprocess.Popen([sys.executable, "-m", "intune_step", "publish",
                                 "dist/field.ipa"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def blocks(emu: Emulator) -> int:
            return sum(r.service == "blob" and r.status == 201 for r in emu.request_log)

        deadline = time.monotonic() + 60
        while not all(blocks(emu) >= 2 for emu in tenants):  # both tenants mid-upload
            assert time.monotonic() < deadline and proc.poll() is None, "no upload started"
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, out + err
        assert "Traceback" not in err
        for emu in tenants:  # every tenant's new app removed before the run ended
            assert emu.apps() == []
            assert not any(r.path.endswith("/commit") for r in emu.request_log)


@pytest.mark.e2e
def test_a_ring_of_group_names_reaches_each_tenants_own_group(tmp_path: Path) -> None:
    """Group IDs differ between tenants; a ring names the group, and each target resolves it
    in its own tenant as it publishes."""
    dist = tmp_path / "dist"
    dist.mkdir()
    build_ipa(dist / "field.ipa", bundle_id="com.contoso.field")
    with Tenants([EmulatorConfig(), EmulatorConfig()]) as tenants:
        pilots = [emu.add_group("Pilot devices") for emu in tenants]
        assert pilots[0] != pilots[1]
        env = write_settings(tmp_path, tenants, NAMES[:2], rings={
            "pilot": {"intent": "required", "groups": ["Pilot devices"]}})
        code, host = publish(tmp_path, env, file="dist/field.ipa", ring="pilot")
        assert code == EXIT_OK, host.errors
        for emu, pilot in zip(tenants, pilots, strict=True):
            [app] = emu.apps()
            assert [a["target"].get("groupId") for a in app["assignments"]] == [pilot]
