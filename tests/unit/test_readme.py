"""The README stays true: its tables follow action.yml, its first commands exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def test_inputs_and_outputs_tables_match_action_yml() -> None:
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "readme-tables"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_first_block_holds_the_two_newcomer_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["./scripts/demo", "./scripts/test"]
    for command in commands:
        script = REPO / command
        assert script.is_file() and os.access(script, os.X_OK), command


def test_ci_runs_the_readme_test_command() -> None:
    assert "scripts/test" in (REPO / ".ci" / "run").read_text()


def headings(text: str, level: str) -> list[str]:
    return re.findall(rf"^{level} (.+)$", text, re.M)


def test_the_readme_follows_the_order_a_user_works_in() -> None:
    """Try it, set up Entra, one recipe per host, then the reference pages; short."""
    assert headings(README, "##") == ["Try it", "Set up Entra", "Use it in your CI",
                                      "Reference"]
    assert headings(README, "###") == ["GitHub Actions", "GitLab CI", "Azure DevOps",
                                       "Appcircle"]
    assert len(README.splitlines()) < 400
    assert "Proposed edits" not in README


def test_the_entra_setup_is_commands_with_the_graph_permission_ids() -> None:
    entra = README.split("## Set up Entra", 1)[1].split("\n## ", 1)[0]
    for command in ("az ad app create", "az ad sp create", "az ad app permission add",
                    "az ad app permission admin-consent", "az ad app federated-credential create"):
        assert command in entra, command
    # Microsoft Graph's app roles: DeviceManagementApps.ReadWrite.All and .Read.All
    assert "--api 00000003-0000-0000-c000-000000000000" in entra
    assert "78145de6-330d-4800-a6ce-494ff2d33d07=Role" in entra
    assert "7a6ee1e7-141e-4cec-ae74-d9db155731ff=Role" in entra


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors (outside code fences), as tests/unit/test_docs_references."""
    found, fenced = set(), False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6}\s+(.+?)\s*$", line)):
            found.add(re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-"))
    return found


def test_every_link_between_the_pages_resolves() -> None:
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    checked = 0
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            assert resolved.exists(), (page.name, target)
            if anchor:
                assert anchor in anchors(resolved.read_text()), (page.name, target)
            checked += 1
    assert checked >= 20


def test_the_readme_links_every_reference_page() -> None:
    reference = README.split("## Reference", 1)[1]
    for page in sorted((REPO / "docs").glob("*.md")):
        assert f"](docs/{page.name})" in reference, page.name
