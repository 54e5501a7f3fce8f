"""new-app versioning under faults: between creating the new version and relating it.

The new version's app exists, but its supersedence is not written yet. The run must either
complete (a passing failure is retried) or remove the new app, and never leave two unrelated
versions both assigned.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from intune_step.emulator import Emulator, Fault

from ..e2e.conftest import run_entrypoint
from ..e2e.test_win32_versions import ASSIGN, GROUP, groups, package, version_inputs, versions
from .test_matrix import FAST, error_lines

RELATE = r"/updateRelationships$"


@pytest.mark.e2e
@pytest.mark.parametrize("times", [1, None], ids=["503-once", "503-forever"])
def test_a_failure_before_the_relationships_completes_or_removes_the_new_app(
    tmp_path: Path, times: int | None
) -> None:
    with Emulator() as emu:
        name = package(tmp_path)
        first = run_entrypoint(emu, tmp_path, name, env=FAST, assignments=ASSIGN,
                               **version_inputs("1.0"))
        assert first.returncode == 0, first.printed
        v1 = first.outputs["app-id"]
        emu.faults.add(Fault("graph", "POST", RELATE, status=503, times=times))
        second = run_entrypoint(emu, tmp_path, name, env=FAST, **version_inputs("2.0"))
        apps = versions(emu)
        assigned = [v for v, app in apps.items() if groups(emu, app["id"])]
        if times == 1:  # retried: the release completes
            assert second.returncode == 0, second.printed
            assert sorted(apps) == ["1.0", "2.0"] and assigned == ["2.0"]
            assert [r["targetId"] for r in emu.relationships(apps["2.0"]["id"])] == [v1]
        else:  # never written: the new app is gone, the old one still carries the release
            assert second.returncode == 3, second.printed
            [line] = error_lines(second)
            assert "write the relationships" in line and "HTTP 503" in line
            assert "Removed the new version" in second.printed
            assert sorted(apps) == ["1.0"] and groups(emu, v1) == [GROUP]
        assert len(assigned) == 1  # never two versions assigned
