"""What runs with a tenant's write credential is installed from hash-checked pins only.

The image and the Appcircle step install requirements.lock with ``--require-hashes`` (pip's
hash-checking mode: every requirement pinned with ``==`` and at least one ``--hash``); the base
image is pinned by digest and the image does not run as root; pyproject's bounds hold a plain
``pip install`` to the majors the lock tests.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
LOCKS = ("requirements.lock", "requirements-build.lock", "appcircle/requirements.lock")


def locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes), read as pip reads a requirements file (continuations)."""
    text = path.read_text().replace("\\\n", " ")
    pins: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        spec, *options = line.split(" --")
        requirement = Requirement(spec.strip())
        [pin] = list(requirement.specifier)
        assert pin.operator == "==", line
        hashes = [o.split("=", 1)[1].strip() for o in options if o.startswith("hash=sha256:")]
        pins[requirement.name.lower().replace("_", "-")] = (pin.version, hashes)
    return pins


def test_every_locked_requirement_is_pinned_with_hashes() -> None:
    for name in LOCKS:
        pins = locked(REPO / name)
        assert pins, name
        for package, (_, hashes) in pins.items():
            assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), (
                name,
                package,
            )


def test_platform_wheels_are_locked_for_every_runner() -> None:
    """cffi has per-platform wheels: the universal lock carries far more than one hash."""
    assert len(locked(REPO / "requirements.lock")["cffi"][1]) > 20


def test_the_appcircle_step_has_the_same_lock() -> None:
    assert (REPO / "appcircle/requirements.lock").read_text() == (
        REPO / "requirements.lock"
    ).read_text()


def test_pyproject_bounds_admit_the_locked_versions_and_stop_at_the_next_major() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = locked(REPO / "requirements.lock")
    for text in project["dependencies"]:
        requirement = Requirement(text)
        version = Version(pins[requirement.name.lower()][0])
        assert version in requirement.specifier, text
        uppers = [s for s in requirement.specifier if s.operator == "<"]
        assert uppers, f"{text}: no upper bound"
        next_major = (
            Version(f"{version.major + 1}") if version.major else Version(f"0.{version.minor + 1}")
        )
        assert Version(uppers[0].version) <= next_major, text


def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


def pip_installs(text: str) -> list[str]:
    """Each `pip install` command with its continuation lines joined."""
    return re.findall(r"pip install[^\n]*", text.replace("\\\n", " "))


def test_the_image_installs_hash_checked_wheels_from_a_digest_pinned_base() -> None:
    text = dockerfile()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.12-slim@sha256:[0-9a-f]{64}$", text, re.M)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", text, re.M)
    installs = pip_installs(text)
    locked_install = [line for line in installs if "requirements.lock" in line]
    assert locked_install and all("--require-hashes" in line for line in locked_install)
    assert all("--no-deps" in line for line in installs if "requirements" not in line)


def test_the_image_does_not_run_as_root() -> None:
    users = re.findall(r"^USER (\S+)$", dockerfile(), re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_the_appcircle_step_never_installs_without_hashes() -> None:
    script = (REPO / "appcircle/main.sh").read_text()
    installs = pip_installs(script)
    assert installs
    for line in installs:
        assert "--require-hashes" in line or "--no-deps" in line, line
    assert "--constraint" not in script


WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def test_every_action_in_the_workflows_is_pinned_by_commit_sha() -> None:
    for path in WORKFLOWS:
        for uses in re.findall(r"uses:\s*(\S+)", path.read_text()):
            if uses.startswith("./"):
                continue
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), (path.name, uses)


def test_no_workflow_puts_a_token_in_a_url() -> None:
    for path in WORKFLOWS:
        assert not re.search(
            r"https://[^\s\"']*(?:token|\$\{\{)[^\s\"']*@", path.read_text(), re.I
        ), path.name


def release() -> dict:
    import yaml

    return yaml.safe_load((REPO / ".github/workflows/release.yml").read_text())


def test_the_release_publishes_with_trusted_publishing_and_attests_and_signs_the_image() -> None:
    jobs = release()["jobs"]
    pypi = jobs["pypi"]
    assert pypi["permissions"] == {"id-token": "write"}
    [publish] = [s for s in pypi["steps"] if "gh-action-pypi-publish" in s.get("uses", "")]
    assert "password" not in publish.get("with", {})  # trusted publishing: no token
    image = jobs["image"]["steps"]
    [push] = [s for s in image if "build-push-action" in s.get("uses", "")]
    assert push["with"]["sbom"] is True and push["with"]["provenance"].startswith("mode=")
    assert any("attest-build-provenance" in s.get("uses", "") for s in image)
    assert any("cosign sign" in s.get("run", "") for s in image)


def test_the_release_tag_runs_the_pushed_image_by_digest() -> None:
    import runpy

    import yaml

    pinned = runpy.run_path(str(REPO / "scripts/pin-action-image"))["pinned"]
    text = (REPO / "action.yml").read_text()
    digest = "sha256:" + "0" * 64
    new = pinned(text, "ghcr.io/owner/intune-step", digest)
    assert yaml.safe_load(new)["runs"]["image"] == f"docker://ghcr.io/owner/intune-step@{digest}"
    changed = [(a, b) for a, b in zip(text.splitlines(), new.splitlines(), strict=True) if a != b]
    assert len(changed) == 1
    run = "\n".join(s.get("run", "") for s in release()["jobs"]["tags"]["steps"])
    assert "scripts/pin-action-image" in run and 'git push --force origin "refs/tags/$TAG"' in run


def test_the_examples_use_version_tags_that_a_release_creates() -> None:
    """The release tags vX.Y.Z, vX.Y and vX, and pushes the image as X.Y.Z, X.Y and X."""
    from intune_step import __version__

    major, minor, _ = __version__.split(".")
    tags = {__version__, f"{major}.{minor}", major}
    for path in sorted((REPO / "docs" / "examples").iterdir()):
        text = path.read_text()
        for ref in re.findall(r"OWNER/intune-step@(\S+)", text):
            assert ref.removeprefix("v") in tags and ref.startswith("v"), (path.name, ref)
        for tag in re.findall(r"ghcr\.io/OWNER/intune-step:(\S+)", text):
            assert tag in tags, (path.name, tag)
        for pin in re.findall(r"intune-step==(\S+?)\"", text):
            assert pin == __version__, (path.name, pin)
