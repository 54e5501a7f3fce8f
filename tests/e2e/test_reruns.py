"""Safe to run on every commit: the real entry point as a process, against the emulator.

Each test reads the emulator's own state and request log, never the step's word for it:
the same file twice writes nothing; a newer build is one new content version on the same app
with assignments kept; an older build is refused; a run killed mid-upload is finished by the
next run; two runs at once leave one app and one committed content version; a failed commit
leaves no app; a dry run only reads.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from intune_step.artifacts import read_artifact
from intune_step.artifacts.base import AppMetadata
from intune_step.auth.signin import sign_in
from intune_step.config.options import build_options
from intune_step.config.settings import build_settings
from intune_step.config.tuning import WaitSchedules
from intune_step.emulator import Emulator
from intune_step.graph.client import GraphClient
from intune_step.graph.lock import LockPolicy
from intune_step.graph.tags import content_tag, lock_tag
from intune_step.graph.waits import WaitPolicy
from intune_step.publish.flow import Publisher
from intune_step.publish.result import PublishResult
from intune_step.report import RecordingReporter
from intune_step.samples.ipa import build_ipa
from intune_step.transport.http import make_client
from intune_step.upload.blob import BlockUploader

from ..emulator.helpers import Api, ios_body
from ..runner_files import parse_github_output
from .conftest import REPO, Run, base_env, run_entrypoint

GROUP_A = "00000000-0000-0000-0000-00000000000a"
GROUP_B = "00000000-0000-0000-0000-00000000000b"
FILTER = "11111111-0000-0000-0000-000000000001"
APPS = "deviceAppManagement/mobileApps"
SLOW_UPLOAD = {"INTUNE_BLOCK_SIZE": str(64 * 1024), "INTUNE_BLOCKS_IN_FLIGHT": "1"}
FAST_LOCKS = {"INTUNE_LOCK_POLL_S": "0.2", "INTUNE_LOCK_STALE_S": "3"}


@pytest.fixture
def api(emulator: Emulator) -> Iterator[Api]:
    """An admin's own Graph client, to look and to change things as the portal would."""
    with httpx.Client(verify=emulator.ssl_context(), timeout=30) as http:
        yield Api(emulator, http)


# The step's own knobs for short polls against a local emulator (speed is never asserted).
QUICK = {"INTUNE_POLL_INTERVAL": "0.05", "INTUNE_RETRY_BASE_DELAY": "0.01"}


def run_step(emu: Emulator, workspace: Path, file: str, env: dict[str, str] | None = None,
             **inputs: str) -> Run:
    return run_entrypoint(emu, workspace, file, env={**QUICK, **(env or {})}, **inputs)


def writes_during(emu: Emulator, before: int) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in emu.write_requests()[before:]]


def ipa(folder: Path, build: str, name: str = "app.ipa", **kw: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return build_ipa(folder / name, bundle_id="com.contoso.rerun", version=f"1.{build}",
                     build=build, **kw)


def error_line(run: Run) -> str:
    return next(line for line in run.printed.splitlines() if line.startswith("::error"))


def start_entrypoint(emu: Emulator, workspace: Path, file: str, env: dict[str, str],
                     **inputs: str) -> subprocess.Popen[str]:
    """Like conftest.run_entrypoint, but started in the background (to kill it or race it)."""
    full = base_env(emu)
    full.update({**QUICK, **env})
    full.update({
        "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(workspace / "github_output"),
        "GITHUB_STEP_SUMMARY": str(workspace / "step_summary.md"),
        "INPUT_FILE": file, "INPUT_CLIENT-ID": emu.client_id,
        "INPUT_CLIENT-SECRET": emu.client_secret, "INPUT_AUTH-URL": emu.auth_url,
        "INPUT_GRAPH-URL": emu.graph_url, "INPUT_SETTING-NAME": "e2e",
    })
    for key, value in inputs.items():
        full["INPUT_" + key.replace("_", "-").upper()] = value
    return subprocess.Popen([sys.executable, str(REPO / "entrypoint.py")], cwd=workspace,
                            env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def wait_for_the_upload(emu: Emulator, proc: subprocess.Popen[str]) -> None:
    """Until the first block reaches the blob store: the run is then mid-upload."""
    deadline = time.monotonic() + 60
    while not any(r.service == "blob" and "comp=block&" in r.query for r in emu.request_log):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout
        time.sleep(0.05)


def finish(proc: subprocess.Popen[str], workspace: Path) -> Run:
    out, _ = proc.communicate(timeout=120)
    output = workspace / "github_output"
    return Run(proc.returncode, out, "", parse_github_output(output) if output.exists() else {},
               "", {})


# --- 3. idempotent re-runs ------------------------------------------------------------------


@pytest.mark.e2e
def test_the_same_file_again_writes_nothing(emulator: Emulator, tmp_path: Path,
                                            api: Api) -> None:
    ipa(tmp_path, "10")
    first = run_step(emulator, tmp_path, "app.ipa")
    assert first.returncode == 0, first.printed
    app_id = first.outputs["app-id"]
    # An admin writes notes of their own in the portal: they must survive, untouched.
    notes = emulator.app(app_id)["notes"]
    api.ok("PATCH", f"{APPS}/{app_id}", {"@odata.type": "#microsoft.graph.iosLobApp",
                                          "notes": "Owned by the mobile team\n" + notes}, 204)
    before = len(emulator.write_requests())

    again = run_step(emulator, tmp_path, "app.ipa")

    assert again.returncode == 0, again.printed
    assert writes_during(emulator, before) == []
    assert again.outputs["operation"] == "unchanged"
    assert again.outputs["app-id"] == app_id
    assert again.outputs["content-version-id"] == first.outputs["content-version-id"] == "1"
    assert again.outputs["file-sha256"] == first.outputs["file-sha256"]
    assert len(emulator.apps()) == 1
    assert emulator.app(app_id)["notes"].startswith("Owned by the mobile team\n")


# --- 1 and 6. update in place, assignments kept -----------------------------------------------


@pytest.mark.e2e
def test_a_newer_build_is_one_new_content_version_with_assignments_kept(
        emulator: Emulator, tmp_path: Path, api: Api) -> None:
    ipa(tmp_path / "v10", "10")
    emulator.add_filter("Corporate iPhones", "iOS", FILTER)  # the tenant has the filter
    assignments = (f"- intent: required\n  group: {GROUP_A}\n"
                   f"  filter: {{id: {FILTER}, mode: include}}\n")
    first = run_step(emulator, tmp_path, "v10/app.ipa", assignments=assignments)
    assert first.returncode == 0, first.printed
    app_id = first.outputs["app-id"]
    # An admin adds one more assignment in the portal (POST /assign replaces the set).
    current = api.ok("GET", f"{APPS}/{app_id}/assignments")["value"]
    extra = {"intent": "available",
             "target": {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}}
    api.ok("POST", f"{APPS}/{app_id}/assign",
           {"mobileAppAssignments": [{k: a[k] for k in ("intent", "target")} for a in current]
            + [extra]}, 200)
    kept = emulator.app(app_id)["assignments"]
    assert len(kept) == 2
    before = len(emulator.write_requests())

    newer = ipa(tmp_path / "v11", "11")
    second = run_step(emulator, tmp_path, "v11/app.ipa")

    assert second.returncode == 0, second.printed
    assert second.outputs["operation"] == "updated"
    assert second.outputs["app-id"] == app_id and second.outputs["content-version-id"] == "2"
    apps = emulator.apps()
    assert [a["id"] for a in apps] == [app_id]
    assert apps[0]["committedContentVersion"] == "2"
    assert apps[0]["buildNumber"] == "11" and apps[0]["versionNumber"] == "1.11"
    assert emulator.committed_content(app_id) == newer.read_bytes()
    writes = writes_during(emulator, before)
    assert [w for w in writes if w[1].endswith("/contentVersions")] == [
        ("POST", f"/beta/{APPS}/{app_id}/microsoft.graph.iosLobApp/contentVersions")]
    assert not any(w[1].endswith("/assign") for w in writes)
    assert emulator.app(app_id)["assignments"] == kept
    tag = content_tag(apps[0]["notes"])
    assert tag and tag.content_version == "2" and tag.sha256 == second.outputs["file-sha256"]
    assert apps[0]["notes"].count("[intune-step:") == 1 and lock_tag(apps[0]["notes"]) is None


# --- 2. preflight -----------------------------------------------------------------------------


@pytest.mark.e2e
def test_an_older_build_is_refused_before_any_write(emulator: Emulator, tmp_path: Path) -> None:
    ipa(tmp_path / "v9", "9")
    ipa(tmp_path / "v10", "10")
    assert run_step(emulator, tmp_path, "v10/app.ipa").returncode == 0
    before = len(emulator.write_requests())

    older = run_step(emulator, tmp_path, "v9/app.ipa")

    assert older.returncode == 2, older.printed
    line = error_line(older)
    assert "buildNumber 9 is older than 10" in line and "allow-downgrade" in line
    assert writes_during(emulator, before) == []

    rolled_back = run_step(emulator, tmp_path, "v9/app.ipa", allow_downgrade="true")
    assert rolled_back.returncode == 0, rolled_back.printed
    assert rolled_back.outputs["operation"] == "updated"
    assert emulator.apps()[0]["buildNumber"] == "9"


@pytest.mark.e2e
def test_the_same_build_number_with_other_bytes_is_refused(emulator: Emulator,
                                                          tmp_path: Path) -> None:
    ipa(tmp_path / "a", "10")
    ipa(tmp_path / "b", "10", padding_bytes=1000)  # rebuilt without raising CFBundleVersion
    assert run_step(emulator, tmp_path, "a/app.ipa").returncode == 0
    before = len(emulator.write_requests())
    run = run_step(emulator, tmp_path, "b/app.ipa")
    assert run.returncode == 2, run.printed
    assert "already the version" in error_line(run) and "raise CFBundleVersion" in error_line(run)
    assert writes_during(emulator, before) == []


# --- 1. finding the app -----------------------------------------------------------------------


@pytest.mark.e2e
def test_two_apps_with_the_identity_stop_with_both_listed(emulator: Emulator, tmp_path: Path,
                                                          api: Api) -> None:
    one = api.create_app(ios_body(bundleId="com.contoso.rerun", displayName="Copy 1"))
    two = api.create_app(ios_body(bundleId="COM.contoso.rerun", displayName="Copy 2"))
    api.create_app(ios_body(bundleId="com.contoso.other"))  # another identity: not a match
    ipa(tmp_path, "10")
    before = len(emulator.write_requests())
    run = run_step(emulator, tmp_path, "app.ipa")
    assert run.returncode == 2, run.printed
    line = error_line(run)
    assert one["id"] in line and two["id"] in line and "set app-id" in line
    assert writes_during(emulator, before) == []

    chosen = run_step(emulator, tmp_path, "app.ipa", app_id=two["id"])
    assert chosen.returncode == 0, chosen.printed
    assert chosen.outputs["app-id"] == two["id"] and chosen.outputs["operation"] == "created"
    assert emulator.app(two["id"])["publishingState"] == "published"


@pytest.mark.e2e
def test_an_app_made_elsewhere_is_found_by_bundle_id_and_updated(
        emulator: Emulator, tmp_path: Path, api: Api) -> None:
    existing = api.full_upload(b"an older build uploaded by hand")  # bundleId com.contoso.field
    api.ok("PATCH", f"{APPS}/{existing.app_id}",
           {"@odata.type": "#microsoft.graph.iosLobApp", "buildNumber": "5"}, 204)
    build_ipa(tmp_path / "app.ipa", bundle_id="com.contoso.field", version="2.0", build="6")
    run = run_step(emulator, tmp_path, "app.ipa")
    assert run.returncode == 0, run.printed
    assert run.outputs["app-id"] == existing.app_id and run.outputs["operation"] == "updated"
    assert emulator.app(existing.app_id)["committedContentVersion"] == "2"


@pytest.mark.e2e
def test_an_app_id_of_another_identity_is_refused_before_any_write(
        emulator: Emulator, tmp_path: Path, api: Api) -> None:
    other = api.create_app(ios_body(bundleId="com.contoso.other"))
    ipa(tmp_path, "10")
    before = len(emulator.write_requests())
    run = run_step(emulator, tmp_path, "app.ipa", app_id=other["id"])
    assert run.returncode == 2, run.printed
    assert "is com.contoso.other, but app.ipa is com.contoso.rerun" in error_line(run)
    assert writes_during(emulator, before) == []


# --- 4. no orphans, resumable -----------------------------------------------------------------


@pytest.mark.e2e
def test_a_failed_commit_on_a_new_app_leaves_no_app(emulator: Emulator, tmp_path: Path) -> None:
    ipa(tmp_path, "10")
    emulator.fail_next_commit(times=5)  # more than any retry of the step
    run = run_step(emulator, tmp_path, "app.ipa")
    assert run.returncode == 3, run.printed
    assert "commitFileFailed" in error_line(run)
    assert "Removed the half-created app" in run.printed
    assert emulator.apps() == []


@pytest.mark.e2e
def test_a_failed_commit_on_an_update_leaves_no_dangling_version(emulator: Emulator,
                                                                 tmp_path: Path) -> None:
    ipa(tmp_path / "v10", "10")
    first = run_step(emulator, tmp_path, "v10/app.ipa")
    app_id = first.outputs["app-id"]
    ipa(tmp_path / "v11", "11")
    emulator.fail_next_commit(times=5)
    run = run_step(emulator, tmp_path, "v11/app.ipa")
    assert run.returncode == 3, run.printed
    app = emulator.app(app_id)
    assert app["committedContentVersion"] == "1" and app["publishingState"] == "published"
    assert {f["contentVersion"] for f in emulator.files(app_id)} == {"1"}
    assert lock_tag(app["notes"]) is None  # the lock went with the failure


@pytest.mark.e2e
@pytest.mark.emulator_config(blob_latency_s=0.3)
def test_a_run_killed_mid_upload_is_finished_by_the_next_run(emulator: Emulator,
                                                            tmp_path: Path) -> None:
    artifact = ipa(tmp_path, "10", padding_bytes=900_000)
    proc = start_entrypoint(emulator, tmp_path, "app.ipa", SLOW_UPLOAD)
    wait_for_the_upload(emulator, proc)
    proc.send_signal(signal.SIGKILL)  # no cleanup code runs
    proc.wait(timeout=30)
    left = emulator.apps()
    assert len(left) == 1 and left[0]["committedContentVersion"] is None
    assert lock_tag(left[0]["notes"]) is not None  # the dead run's lock is still there

    rerun = run_step(emulator, tmp_path, "app.ipa", env=FAST_LOCKS)

    assert rerun.returncode == 0, rerun.printed
    assert "it was probably killed" in rerun.printed  # the stale lock was taken over
    assert "Deleted content version 1" in rerun.printed
    apps = emulator.apps()
    assert [a["id"] for a in apps] == [left[0]["id"]] == [rerun.outputs["app-id"]]
    assert apps[0]["publishingState"] == "published"
    assert rerun.outputs["operation"] == "created"
    assert emulator.committed_content(apps[0]["id"]) == artifact.read_bytes()
    assert {f["contentVersion"] for f in emulator.files(apps[0]["id"])} == {
        apps[0]["committedContentVersion"]}
    assert lock_tag(apps[0]["notes"]) is None


@pytest.mark.e2e
@pytest.mark.emulator_config(blob_latency_s=0.3)
def test_a_cancelled_run_removes_the_app_it_was_creating(emulator: Emulator,
                                                        tmp_path: Path) -> None:
    ipa(tmp_path, "10", padding_bytes=900_000)
    proc = start_entrypoint(emulator, tmp_path, "app.ipa", SLOW_UPLOAD)
    wait_for_the_upload(emulator, proc)
    proc.send_signal(signal.SIGTERM)  # how a CI cancels a job
    run = finish(proc, tmp_path)
    assert run.returncode == 130, run.printed
    assert "Removed the half-created app" in run.printed
    assert emulator.apps() == []


# --- 5. two pipelines at once -----------------------------------------------------------------


def _two_at_once(emu: Emulator, tmp_path: Path, artifact: Path) -> list[Run]:
    workspaces = [tmp_path / "one", tmp_path / "two"]
    procs = []
    for workspace in workspaces:
        workspace.mkdir()
        shutil.copy(artifact, workspace / "app.ipa")
        procs.append(start_entrypoint(emu, workspace, "app.ipa", {**SLOW_UPLOAD, **FAST_LOCKS}))
    return [finish(p, w) for p, w in zip(procs, workspaces, strict=True)]


def _commits(emu: Emulator) -> list[str]:
    return [r.path for r in emu.write_requests() if r.path.endswith("/commit")]


@pytest.mark.e2e
@pytest.mark.emulator_config(blob_latency_s=0.05)
def test_two_runs_creating_the_same_app_leave_one_app(emulator: Emulator,
                                                     tmp_path: Path) -> None:
    artifact = ipa(tmp_path, "10", padding_bytes=200_000)
    runs = _two_at_once(emulator, tmp_path, artifact)
    for run in runs:
        assert run.returncode == 0, run.printed
    apps = emulator.apps()
    assert len(apps) == 1, apps
    assert sorted(r.outputs["operation"] for r in runs) == ["created", "unchanged"]
    assert {r.outputs["app-id"] for r in runs} == {apps[0]["id"]}
    assert apps[0]["committedContentVersion"] == "1"
    assert len(_commits(emulator)) == 1
    assert emulator.committed_content(apps[0]["id"]) == artifact.read_bytes()


@pytest.mark.e2e
def test_when_both_runs_create_the_app_the_older_one_is_kept(
        emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the race the lock cannot cover: both lookups finish before either creates."""
    monkeypatch.setenv("SSL_CERT_FILE", str(emulator.ca_path))
    artifact = ipa(tmp_path, "10")
    raw = {"file": str(artifact), "client-id": emulator.client_id,
           "client-secret": emulator.client_secret, "auth-url": emulator.auth_url,
           "graph-url": emulator.graph_url, "setting-name": "race"}
    settings, options = build_settings(raw, os.environ), build_options(raw)
    meta = read_artifact(options.file)
    both_looked = threading.Barrier(2)
    results: dict[str, PublishResult] = {}
    lines: dict[str, list[str]] = {}
    failures: list[BaseException] = []

    def run(name: str) -> None:
        reporter = RecordingReporter()
        lines[name] = reporter.lines
        try:
            with make_client(ca_file=emulator.ca_path) as http:
                tokens, _ = sign_in(settings, http, reporter, os.environ, tmp_path)
                graph = GraphClient(http, settings.graph_url, settings.graph_version, tokens,
                                    reporter)
                publisher = Publisher(settings, graph, BlockUploader(http, reporter), reporter,
                                      waits=WaitPolicy(WaitSchedules.uniform(0.05, 1)),
                                      lock_policy=LockPolicy(timeout=60, settle=0.3,
                                                             poll=0.1, heartbeat=0))
                find = publisher.finder.find

                def find_then_wait(meta: AppMetadata) -> dict | None:
                    found = find(meta)
                    both_looked.wait(timeout=30)
                    return found

                publisher.finder.find = find_then_wait  # type: ignore[method-assign]
                results[name] = publisher.publish(meta, options)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    created = [r.path.rsplit("/", 1)[-1] for r in emulator.write_requests()
               if r.method == "POST" and r.path.endswith("/mobileApps")]
    assert len(created) == 2  # both really created one
    apps = emulator.apps()
    assert len(apps) == 1, apps
    kept = apps[0]["id"]
    deleted = [r.path.rsplit("/", 1)[-1] for r in emulator.write_requests()
               if r.method == "DELETE"]
    assert len(deleted) == 1 and deleted[0] != kept
    assert sorted(r.operation for r in results.values()) == ["created", "unchanged"]
    assert {r.app_id for r in results.values()} == {kept}
    assert len(_commits(emulator)) == 1
    assert emulator.committed_content(kept) == artifact.read_bytes()
    loser = next(n for n, r in results.items() if r.operation == "unchanged")
    assert any(f"Another run created the same app first ({kept})" in line
               for line in lines[loser])


@pytest.mark.e2e
@pytest.mark.emulator_config(blob_latency_s=0.05)
def test_two_runs_updating_the_same_app_commit_one_version(emulator: Emulator,
                                                          tmp_path: Path) -> None:
    ipa(tmp_path / "v10", "10")
    first = run_step(emulator, tmp_path, "v10/app.ipa")
    app_id = first.outputs["app-id"]
    newer = ipa(tmp_path / "v11", "11", padding_bytes=200_000)
    runs = _two_at_once(emulator, tmp_path, newer)
    for run in runs:
        assert run.returncode == 0, run.printed
    assert sorted(r.outputs["operation"] for r in runs) == ["unchanged", "updated"]
    app = emulator.app(app_id)
    assert [a["id"] for a in emulator.apps()] == [app_id]
    assert app["committedContentVersion"] == "2"
    assert len(_commits(emulator)) == 2  # one for v10, one for v11: never two for v11
    assert {f["contentVersion"] for f in emulator.files(app_id)} == {"1", "2"}
    assert emulator.committed_content(app_id) == newer.read_bytes()


@pytest.mark.e2e
def test_a_run_stops_when_another_holds_the_app_past_lock_timeout(
        emulator: Emulator, tmp_path: Path, api: Api) -> None:
    ipa(tmp_path / "v10", "10")
    app_id = run_step(emulator, tmp_path, "v10/app.ipa").outputs["app-id"]
    notes = emulator.app(app_id)["notes"]
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    api.ok("PATCH", f"{APPS}/{app_id}", {"@odata.type": "#microsoft.graph.iosLobApp",
                                          "notes": f"{notes}[intune-step-lock:ci-42:{stamp}]"},
           204)
    ipa(tmp_path / "v11", "11")
    before = len(emulator.write_requests())
    run = run_step(emulator, tmp_path, "v11/app.ipa", lock_timeout="1",
                         env={"INTUNE_LOCK_POLL_S": "0.2"})
    assert run.returncode == 3, run.printed
    assert "run ci-42 has been publishing app" in error_line(run)
    assert "lock-timeout" in error_line(run)
    assert writes_during(emulator, before) == []


# --- 6 and 7. assignments, categories, scope tags, icon; dry run ------------------------------


@pytest.mark.e2e
def test_assignments_categories_scope_tags_and_icon(emulator: Emulator, tmp_path: Path) -> None:
    ipa(tmp_path, "10")
    icon_path = tmp_path / "icon.png"
    icon_path.write_bytes(_tiny_png())
    emulator.add_filter("Corporate iPhones", "iOS", FILTER)  # the tenant has the filter
    assignments = (f"- intent: required\n  group: {GROUP_A}\n"
                   f"  filter: {{id: {FILTER}, mode: exclude}}\n"
                   "- intent: available\n  target: all-users\n"
                   f"- intent: required\n  group: {GROUP_B}\n  exclude: true\n")
    run = run_step(emulator, tmp_path, "app.ipa", assignments=assignments,
                         categories="business, Productivity", scope_tags="0,5",
                         icon="icon.png")
    assert run.returncode == 0, run.printed
    app = emulator.app(run.outputs["app-id"])
    got = {(a["intent"], a["target"]["@odata.type"], a["target"].get("groupId"),
            a["target"].get("deviceAndAppManagementAssignmentFilterType"))
           for a in app["assignments"]}
    assert got == {
        ("required", "#microsoft.graph.groupAssignmentTarget", GROUP_A, "exclude"),
        ("available", "#microsoft.graph.allLicensedUsersAssignmentTarget", None, "none"),
        ("required", "#microsoft.graph.exclusionGroupAssignmentTarget", GROUP_B, "none"),
    }
    assert sorted(c["displayName"] for c in app["categories"]) == ["Business", "Productivity"]
    assert app["roleScopeTagIds"] == ["0", "5"]
    assert app["largeIcon"]["type"] == "image/png"
    assert base64.b64decode(app["largeIcon"]["value"]) == icon_path.read_bytes()

    # Same file, replace-assignments: content unchanged, the set becomes exactly the input.
    before = len(emulator.write_requests())
    again = run_step(emulator, tmp_path, "app.ipa", replace_assignments="true",
                           assignments=f"- intent: uninstall\n  group: {GROUP_B}\n",
                           categories="Business", icon="icon.png", scope_tags="0,5")
    assert again.returncode == 0, again.printed
    assert again.outputs["operation"] == "unchanged"
    app = emulator.app(run.outputs["app-id"])
    assert [(a["intent"], a["target"]["groupId"]) for a in app["assignments"]] == [
        ("uninstall", GROUP_B)]
    assert len(app["categories"]) == 2  # categories are only ever added
    writes = writes_during(emulator, before)
    assert [m for m, p in writes if p.endswith("/assign")] == ["POST"]
    assert not any("contentVersions" in p for _, p in writes)


@pytest.mark.e2e
def test_notes_and_fields_set_through_properties_are_kept_in_line(emulator: Emulator,
                                                                  tmp_path: Path) -> None:
    ipa(tmp_path, "10")
    properties = "notes: Owned by the mobile team\nowner: Mobile"
    first = run_step(emulator, tmp_path, "app.ipa", properties=properties)
    assert first.returncode == 0, first.printed
    app_id = first.outputs["app-id"]
    notes = emulator.app(app_id)["notes"]
    assert notes.startswith("Owned by the mobile team\n[intune-step:iosLobApp:")
    assert content_tag(notes).content_version == "1"

    before = len(emulator.write_requests())
    same = run_step(emulator, tmp_path, "app.ipa", properties=properties)
    assert same.outputs["operation"] == "unchanged" and writes_during(emulator, before) == []

    changed = run_step(emulator, tmp_path, "app.ipa",
                             properties="notes: Owned by ops\nowner: Ops")
    assert changed.returncode == 0, changed.printed
    assert changed.outputs["operation"] == "unchanged"
    app = emulator.app(app_id)
    assert app["owner"] == "Ops"
    assert app["notes"].startswith("Owned by ops\n[intune-step:iosLobApp:")
    assert content_tag(app["notes"]) == content_tag(notes)  # still found, still unchanged


@pytest.mark.e2e
def test_an_unknown_category_is_refused_before_any_write(emulator: Emulator,
                                                         tmp_path: Path) -> None:
    ipa(tmp_path, "10")
    run = run_step(emulator, tmp_path, "app.ipa", categories="Busines")
    assert run.returncode == 2, run.printed
    assert "'Busines' do not exist" in error_line(run) and "Business" in error_line(run)
    assert emulator.write_requests() == []


@pytest.mark.e2e
def test_dry_run_reads_only_and_prints_the_plan(emulator: Emulator, tmp_path: Path) -> None:
    ipa(tmp_path / "v10", "10")
    first = run_step(emulator, tmp_path, "v10/app.ipa",
                           assignments=f"- intent: required\n  group: {GROUP_A}\n")
    app_id = first.outputs["app-id"]
    ipa(tmp_path / "v11", "11")
    graph_before = len([r for r in emulator.request_log if r.service == "graph"])

    run = run_step(emulator, tmp_path, "v11/app.ipa", dry_run="true",
                         display_name="Field Service", categories="Business",
                         assignments="- intent: available\n  target: all-devices\n",
                         replace_assignments="true")

    assert run.returncode == 0, run.printed
    graph = [r for r in emulator.request_log if r.service == "graph"][graph_before:]
    assert graph and {r.method for r in graph} == {"GET"}
    assert run.outputs["operation"] == "dry-run" and run.outputs["app-id"] == app_id
    plan = json.loads(run.outputs["plan"])
    assert plan["operation"] == "update" and plan["appId"] == app_id
    assert plan["version"] == {"current": "10", "new": "1.11 (11)"}
    assert {"field": "buildNumber", "from": "10", "to": "11"} in plan["content"]
    assert {"field": "displayName", "from": "Demo", "to": "Field Service"} in plan["metadata"]
    assert [a["target"] for a in plan["assignments"]["add"]] == ["allDevicesAssignmentTarget"]
    assert [a["groupId"] for a in plan["assignments"]["remove"]] == [GROUP_A]
    assert plan["categories"]["add"] == ["Business"]
    assert "Dry run: would upload 1.11 (11) as a new content version of " + app_id in run.stdout
    assert f"- required: group {GROUP_A}" in run.stdout
    assert emulator.app(app_id)["committedContentVersion"] == "1"


def _tiny_png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    rows = b"".join(b"\x00" + bytes([200, 30, 30, 255]) * 4 for _ in range(4))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))

