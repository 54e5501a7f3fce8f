"""Every hostile input, through the real GitHub entry against the emulator over TLS.

Each case must give exit 2 (bad input, never 3 "service failure" nor 1 "bug"), exactly one
error line naming the cause, no traceback, no outputs, and no write request to Graph in the
emulator's log.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from intune_step.emulator import Emulator
from intune_step.errors import EXIT_BAD_INPUT, EXIT_SERVICE
from intune_step.samples.ipa import build_ipa

from ..e2e.conftest import FIXTURES, Run, run_entrypoint
from .cases import CASES, GOOD, Case

TARGETS = {"file", "ipa", "apk", "msi", "msix", "intunewin", "pkg", "dmg", "auth-url",
           "client-id", "client-secret", "graph-url", "graph-version", "app-id", "dry-run"}


@dataclass
class Outcome:
    emu: Emulator
    run: Run


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Every selected case at once, each with its own emulator (so a write is pinned on its
    case), a few at a time: the runs mostly start Python and wait."""
    wanted = {item.callspec.params["case"].id for item in request.session.items
              if item.module is request.module and hasattr(item, "callspec")
              and "case" in item.callspec.params}
    with ExitStack() as stack:
        prepared = []
        for case in (c for c in CASES if c.id in wanted):
            workspace = tmp_path_factory.mktemp(case.id)
            prepared.append((case, stack.enter_context(Emulator()), workspace,
                             case.build(workspace)))

        def refuse(item: tuple[Case, Emulator, Path, str]) -> tuple[str, Outcome]:
            case, emu, workspace, file = item
            inputs = {k.replace("-", "_"): v for k, v in case.inputs.items()}
            return case.id, Outcome(emu, run_entrypoint(emu, workspace, file, **inputs))

        with ThreadPoolExecutor(max_workers=6) as pool:
            yield dict(pool.map(refuse, prepared))


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def error_lines(run: Run) -> list[str]:
    return [line for line in run.printed.splitlines() if line.startswith("::error")]


def assert_refused(emu: Emulator, run: Run, expect: str, writes_before: int) -> None:
    assert run.returncode == EXIT_BAD_INPUT != EXIT_SERVICE, run.printed
    assert "Traceback" not in run.printed
    errors = error_lines(run)
    assert len(errors) == 1, run.printed
    assert expect in errors[0], (expect, errors[0])
    assert run.outputs == {}
    assert len(emu.write_requests()) == writes_before, "a bad input reached a Graph write"


def test_the_corpus_covers_every_input_and_type() -> None:
    assert len(CASES) >= 25
    assert {case.target for case in CASES} >= TARGETS
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.e2e
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_refused(case: Case, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[case.id]
    assert_refused(outcome.emu, outcome.run, case.expect, 0)


@pytest.mark.e2e
def test_app_ids_that_cannot_be_updated(emu: Emulator, tmp_path: Path) -> None:
    """An app id of the wrong type, or of no app in this tenant: refused before any write."""
    android, ios, other = (tmp_path / name for name in ("android", "ios", "other"))
    android.mkdir()
    apk = FIXTURES / "third_party" / "v2-only-targetSandboxVersion-2.apk"
    (android / "a.apk").write_bytes(apk.read_bytes())
    first = run_entrypoint(emu, android, "a.apk")
    assert first.returncode == 0, first.printed
    build_ipa(ios / GOOD)
    build_ipa(other / GOOD)
    before = len(emu.write_requests())
    wrong_type = run_entrypoint(emu, ios, GOOD, app_id=first.outputs["app-id"])
    assert_refused(emu, wrong_type, "androidLobApp", before)
    unknown = run_entrypoint(emu, other, GOOD, app_id="00000000-0000-4000-8000-000000000000")
    assert_refused(emu, unknown, "00000000-0000-4000-8000-000000000000 does not exist", before)


@pytest.mark.e2e
def test_metadata_that_is_not_utf8(emu: Emulator, tmp_path: Path) -> None:
    """A display name whose bytes are not UTF-8 (a Latin-1 pipeline variable) is bad input."""
    build_ipa(tmp_path / GOOD)
    before = len(emu.write_requests())
    latin1 = b"Caf\xe9 \xff".decode("utf-8", "surrogateescape")  # the bytes as the env holds them
    run = run_entrypoint(emu, tmp_path, GOOD, display_name=latin1, description=latin1)
    assert_refused(emu, run, "UTF-8", before)
