"""The fault matrix: every fault the service is known to throw, injected into a real run.

Each case runs the GitHub entry (`python entrypoint.py`) as a process against a fresh emulator
over TLS, with one fault set. The outcome is one of two, and nothing in between:

- survived: exit 0, exactly one app, published, whose committed content decrypts to the very
  bytes of the artifact; every retry was logged;
- failed: exit 3 ("service failure", not 2 "bad input") in bounded time (the subprocess
  timeout: "fails, not hangs"), with one error line naming the fault and the request-id of
  the Graph or Storage response that showed it (a real request from the emulator's log), and
  no app left behind.

Waits are short through the step's own knobs (INTUNE_RETRY_BASE_DELAY, INTUNE_POLL_INTERVAL,
INTUNE_WAIT_TIMEOUT); nothing here asserts speed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from intune_step.emulator import Emulator, EmulatorConfig, Fault
from intune_step.samples.ipa import build_ipa

from ..e2e.conftest import Run, run_entrypoint

FILE_PATH = r"/contentVersions/\d+/files/[0-9a-f-]+$"
FAST = {"INTUNE_RETRY_BASE_DELAY": "0.01", "INTUNE_POLL_INTERVAL": "0.01",
        "INTUNE_BLOCK_SIZE": str(64 * 1024), "INTUNE_BLOCKS_IN_FLIGHT": "2",
        "INTUNE_LOCK_SETTLE_S": "0"}  # issue 4's lock: no settling pause after a create
SHORT_POLLS = {"INTUNE_POLL_INTERVAL": "0.002"}  # 12 polls still take a while at 0.01
REQUEST_ID = re.compile(r"request-id ([0-9a-f-]{36})")
FOREVER = 10**9


def error_lines(run: Run) -> list[str]:
    return [line for line in run.printed.splitlines() if line.startswith("::error")]


def warnings(run: Run) -> list[str]:
    return [line for line in run.printed.splitlines() if line.startswith("::warning")]


@dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[Emulator], object] = lambda emu: None
    config: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    survives: bool = True
    # survived: text some warning must hold; failed: text the error line must hold
    expect: tuple[str, ...] = ()
    retries: int | None = None  # warnings that say "retrying"/"trying again", when survived
    request_id: bool = True  # the error names a request-id seen by the emulator


def add(*faults: Fault) -> Callable[[Emulator], None]:
    def setup(emu: Emulator) -> None:
        for fault in faults:
            emu.faults.add(fault)
    return setup


def act(service: str, method: str, path: str, after: int,
        action: Callable[[Emulator], Callable[[], object]]) -> Callable[[Emulator], None]:
    """At the (after+1)th matching request, run ``action(emu)`` and serve the request."""
    def setup(emu: Emulator) -> None:
        emu.faults.add(Fault(service, method, path, after=after, passthrough=True,  # type: ignore[arg-type]
                             action=action(emu)))
    return setup


SURVIVED = [
    Case("graph-429-retry-after",
         add(Fault("graph", "POST", r"/mobileApps$", status=429, times=2,
                   headers={"Retry-After": "1"})),
         expect=("HTTP 429", "retrying in 1.0s"), retries=2),
    Case("graph-429-no-retry-after",
         add(Fault("graph", "GET", FILE_PATH, status=429, times=3)),
         expect=("HTTP 429",), retries=3),
    Case("graph-503-burst-on-commit",
         add(Fault("graph", "POST", r"/commit$", status=503, times=4)),
         expect=("HTTP 503",), retries=4),
    Case("graph-504-burst-on-patch",
         add(Fault("graph", "PATCH", r"/mobileApps/[0-9a-f-]+$", status=504, times=3)),
         expect=("HTTP 504",), retries=3),
    Case("graph-502-503-mixed-burst",
         add(Fault("graph", "POST", r"/contentVersions$", status=502, times=2),
             Fault("graph", "POST", r"/files$", status=503, times=2)),
         expect=("HTTP 502", "HTTP 503"), retries=4),
    Case("graph-dropped-connection-on-read",
         add(Fault("graph", "GET", FILE_PATH, after=1, times=2, drop_connection=True)),
         expect=("RemoteProtocolError",), retries=2),
    Case("blob-503-burst",
         add(Fault("blob", "PUT", r"comp=block&", status=503, after=1, times=3)),
         expect=("HTTP 503",), retries=3),
    Case("blob-500-on-block-list",
         add(Fault("blob", "PUT", r"comp=blocklist", status=500, times=2)),
         expect=("HTTP 500",), retries=2),
    Case("blob-dropped-connection-on-3rd-block",
         add(Fault("blob", "PUT", r"comp=block&", after=2, drop_connection=True)),
         expect=("RemoteProtocolError",), retries=1),
    Case("blob-dropped-connection-on-block-list",
         add(Fault("blob", "PUT", r"comp=blocklist", drop_connection=True)),
         expect=("RemoteProtocolError",), retries=1),
    Case("sas-expires-mid-upload",
         act("blob", "PUT", r"comp=block&", 2, lambda emu: emu.expire_sas_now),
         expect=("Renewing the upload URL",)),
    Case("sas-expires-mid-upload-same-uri",
         act("blob", "PUT", r"comp=block&", 2, lambda emu: emu.expire_sas_now),
         config={"renew_rotates_sig": False}),
    Case("renewal-fails-once-after-expiry",
         lambda emu: (emu.fail_renewal(), act("blob", "PUT", r"comp=block&", 1,
                                              lambda e: e.expire_sas_now)(emu)),
         expect=("azureStorageUriRenewalFailed",)),
    Case("renewal-times-out-once-after-expiry",
         lambda emu: (emu.fail_renewal(timed_out=True),
                      act("blob", "PUT", r"comp=block&", 1, lambda e: e.expire_sas_now)(emu)),
         expect=("azureStorageUriRenewalTimedOut",)),
    Case("token-expires-mid-upload",
         act("blob", "PUT", r"comp=block&", 1, lambda emu: emu.expire_tokens_now),
         expect=("HTTP 401",)),
    # MSAL renews a token with under 5 minutes left: with 60 s tokens, every Graph call
    # signs in again (a token's real expiry mid-run is the case above).
    Case("token-lifetime-inside-msal-renewal-margin", config={"token_lifetime_s": 60}),
    Case("login-503-burst",
         add(Fault("login", "POST", r"/token$", status=503, times=2)),
         expect=("sign-in: HTTP 503",), retries=2),
    Case("login-503-when-the-token-is-renewed",
         lambda emu: (add(Fault("login", "POST", r"/token$", status=503, after=1, times=2))(emu),
                      act("blob", "PUT", r"comp=block&", 1, lambda e: e.expire_tokens_now)(emu)),
         expect=("HTTP 401", "sign-in: HTTP 503"), retries=2),
    Case("upload-url-pending-for-long",
         config={"upload_uri_pending_polls": 12}, env=SHORT_POLLS),
    Case("commit-pending-for-long",
         config={"commit_pending_polls": 12}, env=SHORT_POLLS),
    Case("publish-processing-for-long",
         config={"publish_pending_polls": 12}, env=SHORT_POLLS),
    Case("commit-failed-once", lambda emu: emu.fail_next_commit(),
         expect=("commitFileFailed", "committing again")),
    Case("commit-timed-out-once", lambda emu: emu.fail_next_commit(timed_out=True),
         expect=("commitFileTimedOut", "committing again")),
    Case("upload-url-failed-once", lambda emu: emu.fail_upload_uri(),
         expect=("azureStorageUriRequestFailed", "creating the content file again")),
    Case("upload-url-timed-out-once", lambda emu: emu.fail_upload_uri(timed_out=True),
         expect=("azureStorageUriRequestTimedOut", "creating the content file again")),
    Case("patch-cooldown-after-commit", config={"patch_cooldown_s": 1.0},
         expect=("An error has occurred", "trying again")),
    # A read is safe to repeat, so a passing 500 on one is retried (a write's 500 is not).
    Case("graph-500-once-on-a-read", add(Fault("graph", "GET", FILE_PATH, status=500)),
         expect=("HTTP 500", "retrying"), retries=1),
]

FAILED = [
    Case("graph-503-forever-on-create",
         add(Fault("graph", "POST", r"/mobileApps$", status=503, times=None)),
         survives=False, expect=("create the app failed: HTTP 503", "gave up after 7 attempts")),
    Case("graph-429-forever-on-read",
         add(Fault("graph", "GET", FILE_PATH, status=429, times=None)),
         survives=False, expect=("HTTP 429", "gave up after 7 attempts")),
    Case("graph-dropped-connection-on-create",
         add(Fault("graph", "POST", r"/mobileApps$", drop_connection=True)),
         survives=False, request_id=False,
         expect=("create the app failed: the connection broke before an answer from",
                 "(RemoteProtocolError)", "not repeated")),
    Case("blob-503-forever",
         add(Fault("blob", "PUT", r"comp=block&", status=503, times=None)),
         survives=False, expect=("blob upload failed: HTTP 503 ServerBusy",)),
    Case("blob-connection-dropped-forever",
         add(Fault("blob", "PUT", r"comp=block&", times=None, drop_connection=True)),
         survives=False, request_id=False,
         expect=("blob upload failed: the connection broke", "(RemoteProtocolError)")),
    Case("sas-expired-and-renewal-fails-every-time",
         lambda emu: (emu.fail_renewal(times=50),
                      act("blob", "PUT", r"comp=block&", 1, lambda e: e.expire_sas_now)(emu)),
         survives=False, expect=("HTTP 403 AuthenticationFailed",)),
    Case("upload-url-never-granted", config={"upload_uri_pending_polls": FOREVER},
         env={"INTUNE_WAIT_TIMEOUT": "1"}, survives=False,
         expect=("still azureStorageUriRequestPending",)),
    Case("commit-never-finishes", config={"commit_pending_polls": FOREVER},
         env={"INTUNE_WAIT_TIMEOUT": "1"}, survives=False, expect=("still commitFilePending",)),
    Case("commit-failed-every-time", lambda emu: emu.fail_next_commit(times=2),
         survives=False, expect=("commitFileFailed",)),
    Case("upload-url-failed-every-time", lambda emu: emu.fail_upload_uri(times=2),
         survives=False, expect=("azureStorageUriRequestFailed",)),
    Case("patch-cooldown-outlasts-the-wait", config={"patch_cooldown_s": 600.0},
         env={"INTUNE_WAIT_TIMEOUT": "1"}, survives=False,
         expect=("set the committed content version failed: HTTP 400", "An error has occurred",
                 "still refused")),
    Case("login-429-forever",
         add(Fault("login", "POST", r"/token$", status=429, times=None)),
         survives=False, expect=("sign-in failed: the login host answered HTTP 429",
                                 "gave up after 5 attempts")),
    # Graph takes a read and never answers: the call's deadline ends it, naming the call.
    Case("graph-read-never-answered",
         add(Fault("graph", "GET", FILE_PATH, never_answer=True, times=None)),
         env={"INTUNE_REQUEST_DEADLINE": "1"}, survives=False, request_id=False,
         expect=("read the content file stalled: no complete answer within 1 s",
                 "ReadTimeout")),
    Case("token-refused-every-time",
         add(Fault("graph", "POST", r"/contentVersions$", status=401, times=None)),
         survives=False, expect=("HTTP 401",)),
]


def assert_published_once(run: Run, emu: Emulator, original: bytes) -> None:
    assert run.returncode == 0, run.printed
    apps = emu.apps()
    assert len(apps) == 1, apps
    assert apps[0]["publishingState"] == "published"
    assert run.outputs["app-id"] == apps[0]["id"]
    assert emu.committed_content(apps[0]["id"]) == original


@dataclass
class Outcome:
    emu: Emulator
    run: Run
    original: bytes


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Run every selected case at once, each against its own emulator, in a few threads (the
    runs mostly wait on sockets); the tests then judge one case each."""
    wanted = {item.callspec.params["case"].id for item in request.session.items
              if item.module is request.module and hasattr(item, "callspec")
              and "case" in item.callspec.params}
    cases = [c for c in SURVIVED + FAILED if c.id in wanted]
    with ExitStack() as stack:
        prepared = []
        for case in cases:
            workspace = tmp_path_factory.mktemp(case.id)
            ipa = build_ipa(workspace / "app.ipa", padding_bytes=300_000)
            emu = stack.enter_context(Emulator(EmulatorConfig(**case.config)))
            case.setup(emu)
            prepared.append((case, emu, workspace, ipa.read_bytes()))

        def publish(item: tuple[Case, Emulator, Path, bytes]) -> Outcome:
            case, emu, workspace, original = item
            run = run_entrypoint(emu, workspace, "app.ipa", env={**FAST, **case.env})
            return Outcome(emu, run, original)

        with ThreadPoolExecutor(max_workers=6) as pool:
            done = dict(zip([c.id for c in cases], pool.map(publish, prepared), strict=True))
        yield done


@pytest.mark.e2e
@pytest.mark.parametrize("case", SURVIVED, ids=[c.id for c in SURVIVED])
def test_the_publish_survives(case: Case, outcomes: dict[str, Outcome]) -> None:
    emu, run = outcomes[case.id].emu, outcomes[case.id].run
    assert_published_once(run, emu, outcomes[case.id].original)
    assert error_lines(run) == []
    logged = "\n".join(warnings(run))
    for text in case.expect:
        assert text in logged or text in run.stdout, (text, run.printed)
    if case.retries is not None:
        retried = [w for w in warnings(run) if "retrying" in w or "trying again" in w]
        assert len(retried) == case.retries, run.printed
    assert len(emu.faults) == 0, "a fault never fired"


@pytest.mark.e2e
@pytest.mark.parametrize("case", FAILED, ids=[c.id for c in FAILED])
def test_the_run_fails_naming_the_fault(case: Case, outcomes: dict[str, Outcome]) -> None:
    emu, run = outcomes[case.id].emu, outcomes[case.id].run
    assert run.returncode == 3, run.printed
    assert "Traceback" not in run.printed
    [line] = error_lines(run)
    for text in case.expect:
        assert text in line, (text, line)
    if case.request_id:
        ids = REQUEST_ID.findall(line)
        assert ids, line
        assert set(ids) <= {r.request_id for r in emu.request_log}, line
    assert emu.apps() == [], "the failed run left an app behind"
    assert run.outputs == {}


@pytest.mark.e2e
def test_an_update_survives_and_a_failed_update_changes_nothing(tmp_path: Path) -> None:
    """The update path: faults on a new content version of a published app."""
    v1, _, v3 = (build_ipa(tmp_path / f"v{n}" / "app.ipa", version=f"1.{n}.0", build=str(n),
                           padding_bytes=200_000) for n in (1, 2, 3))
    with Emulator() as emu:
        first = run_entrypoint(emu, tmp_path, "v1/app.ipa", env=FAST)
        assert_published_once(first, emu, v1.read_bytes())
        app_id = first.outputs["app-id"]

        emu.fail_next_commit(times=2)
        failed = run_entrypoint(emu, tmp_path, "v2/app.ipa", env=FAST)
        assert failed.returncode == 3, failed.printed
        [line] = error_lines(failed)
        assert "commitFileFailed" in line and REQUEST_ID.search(line)
        [app] = emu.apps()
        assert app["publishingState"] == "published"
        assert emu.committed_content(app_id) == v1.read_bytes()
        # Nothing half-made: only the committed version's file is left.
        assert [f["contentVersion"] for f in emu.files(app_id)] == [app["committedContentVersion"]]

        emu.faults.add(Fault("graph", "POST", r"/contentVersions$", status=503, times=2))
        act("blob", "PUT", r"comp=block&", 1, lambda e: e.expire_sas_now)(emu)
        updated = run_entrypoint(emu, tmp_path, "v3/app.ipa", env=FAST)
        assert_published_once(updated, emu, v3.read_bytes())
        assert updated.outputs == {**updated.outputs, "app-id": app_id, "operation": "updated"}
        assert len(emu.faults) == 0
