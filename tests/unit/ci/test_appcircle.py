"""Appcircle adapter: AC_* inputs (with Appcircle's Intune credential), $AC_ENV_FILE_PATH
outputs, @@[error] lines, and no secret printed or written."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from intune_step.ci.appcircle import AppcircleHost

from ...ci_runners import appcircle_env

SECRET = "ac-secret-value-123"
NAMES = ["file", "client-id", "client-secret", "auth-url", "publisher", "app-id"]


def host(**env: str) -> tuple[AppcircleHost, io.StringIO]:
    out = io.StringIO()
    return AppcircleHost(env, stream=out), out


def test_appcircle_credential_variables_are_inputs() -> None:
    ac, _ = host(AC_INTUNE_FILE="/out/app.ipa",
                 AC_CREDENTIAL_INTUNE_CLIENT_ID="cid",
                 AC_CREDENTIAL_INTUNE_CLIENT_SECRET=SECRET,
                 AC_CREDENTIAL_INTUNE_CLIENT_AUTH_URL="https://login/t/oauth2/v2.0/token",
                 AC_INTUNE_PUBLISHER_NAME="Contoso", AC_INTUNE_APP_ID="app")
    assert ac.read_inputs(NAMES) == {
        "file": "/out/app.ipa", "client-id": "cid", "client-secret": SECRET,
        "auth-url": "https://login/t/oauth2/v2.0/token", "publisher": "Contoso",
        "app-id": "app"}
    assert ac.input_sources["client-secret"] == "AC_CREDENTIAL_INTUNE_CLIENT_SECRET"


def test_only_the_names_appcircle_uses_are_read() -> None:
    """Appcircle's "Send to Microsoft Intune" step reads AC_CREDENTIAL_INTUNE_CLIENT_SECRET and
    _CLIENT_AUTH_URL; the shorter spellings are nowhere in its docs or components."""
    ac, _ = host(AC_CREDENTIAL_INTUNE_SECRET=SECRET,
                 AC_CREDENTIAL_INTUNE_AUTH_URL="https://a/t")
    values = ac.read_inputs(["client-secret", "auth-url"])
    assert values == {"client-secret": None, "auth-url": None}


def test_without_a_credential_the_log_says_where_appcircle_provides_one() -> None:
    """Appcircle's UI does not show helpText: the hint must reach the log."""
    ac, out = host(AC_INTUNE_FILE="app.ipa")
    ac.read_inputs(["file", "client-id", "client-secret", "auth-url"])
    text = out.getvalue()
    assert "Publish profile" in text and "Environment Variable group" in text
    ac, out = host(AC_CREDENTIAL_INTUNE_CLIENT_SECRET=SECRET)
    ac.read_inputs(["client-secret"])
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    ("env", "source"),
    [
        ({"AC_INTUNE_CLIENT_ID": "step", "AC_CREDENTIAL_INTUNE_CLIENT_ID": "cred",
          "INTUNE_CLIENT_ID": "neutral"}, "AC_INTUNE_CLIENT_ID"),
        ({"AC_INTUNE_CLIENT_ID": "", "AC_CREDENTIAL_INTUNE_CLIENT_ID": "cred",
          "INTUNE_CLIENT_ID": "neutral"}, "AC_CREDENTIAL_INTUNE_CLIENT_ID"),
        ({"AC_INTUNE_CLIENT_ID": " ", "INTUNE_CLIENT_ID": "neutral"}, "INTUNE_CLIENT_ID"),
    ],
)
def test_step_input_then_credential_then_neutral_name(env: dict[str, str], source: str) -> None:
    ac, _ = host(**env)
    ac.read_inputs(["client-id"])
    assert ac.input_sources == {"client-id": source}


def test_an_unexpanded_step_default_is_read_as_the_reference_it_is() -> None:
    ac, _ = host(AC_INTUNE_CLIENT_ID="$AC_CREDENTIAL_INTUNE_CLIENT_ID",
                 AC_CREDENTIAL_INTUNE_CLIENT_ID="cid",
                 AC_INTUNE_PUBLISHER="${AC_INTUNE_PUBLISHER_NAME}",
                 AC_INTUNE_AUTH_URL="$AC_CREDENTIAL_INTUNE_CLIENT_AUTH_URL")
    assert ac.read_inputs(["client-id", "publisher", "auth-url"]) == {
        "client-id": "cid", "publisher": None, "auth-url": None}


def test_outputs_are_appended_to_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("AC_REPOSITORY_DIR=/repo")  # a previous step forgot its newline
    ac, out = host(AC_ENV_FILE_PATH=str(env_file))
    ac.set_outputs({"app-id": "a1", "app-url": "https://intune/x?y=1&z=2"})
    assert appcircle_env(env_file.read_bytes()) == {
        "AC_REPOSITORY_DIR": "/repo", "AC_INTUNE_OUTPUT_APP_ID": "a1",
        "AC_INTUNE_OUTPUT_APP_URL": "https://intune/x?y=1&z=2"}
    assert "AC_INTUNE_OUTPUT_APP_ID=a1" in out.getvalue()


def test_without_an_env_file_the_outputs_are_shown_with_a_warning() -> None:
    ac, out = host()
    ac.set_outputs({"app-id": "a1"})
    assert "AC_ENV_FILE_PATH is not set" in out.getvalue()
    assert "AC_INTUNE_OUTPUT_APP_ID=a1" in out.getvalue()


def test_errors_are_at_error_lines_and_data_cannot_fake_one() -> None:
    ac, out = host()
    ac.error("UploadError: commit failed\ndetails")
    ac.info("@@[error] not really")
    assert out.getvalue().splitlines() == ["@@[error] UploadError: commit failed",
                                           "  details", " @@[error] not really"]


def test_a_secret_is_never_printed_nor_written(tmp_path: Path) -> None:
    env_file, outdir = tmp_path / "env", tmp_path / "out"
    ac, out = host(AC_ENV_FILE_PATH=str(env_file), AC_OUTPUT_DIR=str(outdir))
    ac.mask(SECRET)
    ac.info(SECRET)
    ac.warning(SECRET)
    ac.error(SECRET)
    ac.set_outputs({"app-url": SECRET})
    ac.summary(f"| {SECRET} |")
    written = out.getvalue() + env_file.read_text() + (outdir / "intune-step-summary.md")\
        .read_text()
    assert SECRET not in written and "***" in written


def test_the_summary_is_a_build_artifact_and_paths_resolve_in_the_repository(
    tmp_path: Path,
) -> None:
    ac, _ = host(AC_OUTPUT_DIR=str(tmp_path), AC_REPOSITORY_DIR="/ac/repo")
    ac.summary("### Published to Intune\n")
    assert (tmp_path / "intune-step-summary.md").read_text() == "### Published to Intune\n\n"
    assert ac.workspace() == Path("/ac/repo")
