"""Every YAML block in README.md and docs/*.md is checked against what it is for.

A block follows a `<!-- lint: KIND -->` line. GitHub, GitLab and Azure Pipelines blocks go
through check-jsonschema's vendored schemas (the same ones scripts/lint-packaging uses for
docs/examples), step lists wrapped into a minimal pipeline first; an Appcircle component goes
through tests/fixtures/appcircle-component.json; a settings file or a win32 file through the
step's own parser; a Bash block for Appcircle through `bash -n`. Known-bad blocks show that
each check can fail, and the versions the docs pin are ones a release creates.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from intune_step.config.named_settings import load_settings_file
from intune_step.config.win32 import parse_win32
from intune_step.errors import IntuneStepError
from intune_step.version import __version__

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
APPCIRCLE_SCHEMA = REPO / "tests" / "fixtures" / "appcircle-component.json"
MARKER = re.compile(r"<!-- lint: ([\w-]+) -->")

# kind -> (check-jsonschema arguments, how a block becomes a document of that schema)
GITHUB = ["--builtin-schema", "vendor.github-workflows"]
GITLAB = ["--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci"]
AZURE = [
    "--builtin-schema",
    "vendor.azure-pipelines",
    "--data-transform",
    "azure-pipelines",
    "--regex-variant",
    "python",
]
SCHEMA_KINDS: dict[str, list[str]] = {
    "github-workflow": GITHUB,
    "github-steps": GITHUB,
    "gitlab-ci": GITLAB,
    "azure-pipelines": AZURE,
    "azure-steps": AZURE,
    "appcircle-component": ["--schemafile", str(APPCIRCLE_SCHEMA)],
}
PARSER_KINDS = ("intune-step-settings", "intune-step-win32")
BASH_KINDS = ("appcircle",)


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    language: str
    kind: str | None
    body: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def blocks_of(text: str, page: str) -> list[Block]:
    """Fenced blocks (indented ones in lists too) with their language and the lint marker on
    the line before, if any."""
    found: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        match = re.match(r"^\s*```(\S*)\s*$", lines[index])
        if not match:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if re.match(r"^\s*```\s*$", lines[i]))
        marker = MARKER.fullmatch(lines[index - 1].strip()) if index else None
        body = textwrap.dedent("\n".join(lines[index + 1 : end])) + "\n"
        found.append(
            Block(page, index + 1, match.group(1), marker.group(1) if marker else None, body)
        )
        index = end + 1
    return found


def all_blocks() -> list[Block]:
    return [
        block
        for page in PAGES
        for block in blocks_of(page.read_text(), str(page.relative_to(REPO)))
    ]


def as_document(block: Block) -> str:
    """The block as a whole file of its kind: a step list is wrapped into a pipeline."""
    body = textwrap.dedent(block.body)
    if block.kind == "github-steps":
        steps = yaml.safe_load(body)
        return yaml.safe_dump(
            {
                "name": "lint",
                "on": "push",
                "jobs": {"lint": {"runs-on": "ubuntu-latest", "steps": steps}},
            },
            sort_keys=False,
        )
    if block.kind == "azure-steps":
        return yaml.safe_dump({"steps": yaml.safe_load(body)}, sort_keys=False)
    return body


def check_jsonschema() -> str:
    found = Path(sys.executable).with_name("check-jsonschema")
    command = str(found) if found.exists() else shutil.which("check-jsonschema")
    if command is None:
        pytest.fail("check-jsonschema is missing: scripts/setup --test installs the test extra")
    return command


def schema_failures(kind: str, documents: dict[str, str], tmp_path: Path) -> str:
    """Run check-jsonschema once over the documents; its report, or "" when all pass."""
    files = []
    for name, text in documents.items():
        path = tmp_path / f"{re.sub(r'[^A-Za-z0-9]+', '_', name)}.yml"
        path.write_text(text)
        files.append(str(path))
    result = subprocess.run(
        [check_jsonschema(), *SCHEMA_KINDS[kind], *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


def parser_failure(kind: str, text: str, tmp_path: Path) -> str:
    """The step's own parser on a settings file or a win32 file; "" when it accepts it."""
    try:
        if kind == "intune-step-settings":
            path = tmp_path / "intune-step.yml"
            path.write_text(text)
            load_settings_file(path)
        else:
            for name in re.findall(r"file: ([\w./-]+)", text):  # the scripts it names
                (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / name).write_text("exit 0\n")
            parse_win32(text, tmp_path)
    except IntuneStepError as exc:
        return str(exc)
    return ""


def test_every_yaml_block_says_what_it_is() -> None:
    blocks = all_blocks()
    yaml_blocks = [b for b in blocks if b.language in ("yaml", "yml")]
    assert len(yaml_blocks) >= 15  # the scan sees the docs, or it could pass on nothing
    unmarked = [b.where for b in yaml_blocks if b.kind is None]
    assert not unmarked, f"add a <!-- lint: KIND --> line before: {unmarked}"
    known = set(SCHEMA_KINDS) | set(PARSER_KINDS) | set(BASH_KINDS)
    unknown = [(b.where, b.kind) for b in blocks if b.kind and b.kind not in known]
    assert not unknown
    for page in PAGES:  # every marker stands right before a fence
        text = page.read_text()
        markers = len(re.findall(rf"^{MARKER.pattern}$", text, re.M))
        assert markers == sum(1 for b in blocks_of(text, page.name) if b.kind), page


@pytest.mark.parametrize("kind", sorted(SCHEMA_KINDS))
def test_yaml_blocks_match_their_hosts_schema(kind: str, tmp_path: Path) -> None:
    documents = {b.where: as_document(b) for b in all_blocks() if b.kind == kind}
    if kind == "appcircle-component":  # the step's own component is one, too
        documents["appcircle/component.yaml"] = (REPO / "appcircle" / "component.yaml").read_text()
    if not documents:
        pytest.skip(f"no {kind} block in the docs")
    assert schema_failures(kind, documents, tmp_path) == ""


@pytest.mark.parametrize("kind", PARSER_KINDS)
def test_settings_and_win32_blocks_parse_as_the_step_reads_them(kind: str, tmp_path: Path) -> None:
    blocks = [b for b in all_blocks() if b.kind == kind]
    assert blocks
    for block in blocks:
        assert parser_failure(kind, block.body, tmp_path) == "", block.where


def test_appcircle_bash_blocks_parse() -> None:
    blocks = [b for b in all_blocks() if b.kind in BASH_KINDS]
    assert blocks
    for block in blocks:
        assert block.language == "bash", block.where
        result = subprocess.run(["bash", "-n"], input=block.body, capture_output=True, text=True)
        assert result.returncode == 0, (block.where, result.stderr)


def test_every_shell_block_parses() -> None:
    """The Entra setup, the install commands and the rest: typed into bash as shown."""
    blocks = [b for b in all_blocks() if b.language in ("sh", "bash")]
    assert len(blocks) >= 8
    for block in blocks:
        result = subprocess.run(["bash", "-n"], input=block.body, capture_output=True, text=True)
        assert result.returncode == 0, (block.where, result.stderr)


BAD = {
    "github-workflow": "on: push\njobs:\n  a:\n    steps:\n      - run: true\n",  # no runs-on
    "github-steps": "- uses: OWNER/intune-step@v0.1.0\n  with: [file]\n",  # with: a list
    "gitlab-ci": "job:\n  script: 1\n  stage: [a]\n",
    "azure-pipelines": "steps:\n  - script: echo\n    env: [a]\n",
    "azure-steps": "- scrip: echo\n",
    "appcircle-component": "platform: Web\ndisplayName: x\n",
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_each_schema_check_refuses_a_bad_block(kind: str, tmp_path: Path) -> None:
    block = Block("bad.md", 1, "yaml", kind, BAD[kind])
    assert schema_failures(kind, {"bad": as_document(block)}, tmp_path) != ""


def test_the_parser_checks_refuse_bad_blocks(tmp_path: Path) -> None:
    assert parser_failure(
        "intune-step-settings", "settings:\n  p:\n    client-secret: x\n", tmp_path
    )
    assert parser_failure("intune-step-win32", "install-context: everyone\n", tmp_path)


def release_versions() -> tuple[set[str], set[str]]:
    """What a release of this version creates: git tags and image/package versions."""
    major, minor, _ = __version__.split(".", 2)
    versions = {__version__, f"{major}.{minor}", major}
    return {f"v{v}" for v in versions}, versions


def test_the_docs_pin_only_versions_a_release_creates() -> None:
    tags, versions = release_versions()
    text = "\n".join(page.read_text() for page in PAGES)
    text += "\n".join(p.read_text() for p in (REPO / "docs" / "examples").iterdir())
    refs = re.findall(r"OWNER/intune-step@([\w.-]+)", text)
    # Placeholders where a page explains the scheme: a commit, a digest, any release's tag.
    placeholders = {"COMMIT_SHA", "sha256", "vX.Y.Z"}
    assert refs and {r for r in refs if r not in placeholders} <= tags, refs
    images = re.findall(r"ghcr\.io/OWNER/intune-step:([\w.-]+)", text)
    assert images and set(images) - {"X.Y.Z"} <= versions, images
    pins = re.findall(r"intune-step==([\w.-]+)", text)
    assert set(pins) <= {__version__}, pins
    assert not re.search(r"intune-step/intune-step[@:]", text)  # no made-up owner
