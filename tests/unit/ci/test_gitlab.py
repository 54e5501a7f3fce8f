"""GitLab CI adapter: INTUNE_* inputs, dotenv report, sections, colour, no secret printed."""

from __future__ import annotations

import io
import re
from pathlib import Path

from intune_step.ci.gitlab import GitLabHost, section_end, section_start

from ...ci_runners import gitlab_dotenv

SECRET = "gl-secret-value-123"


def host(tmp_path: Path, **env: str) -> tuple[GitLabHost, io.StringIO]:
    out = io.StringIO()
    return GitLabHost({"CI_PROJECT_DIR": str(tmp_path), **env}, stream=out), out


def test_inputs_come_from_intune_variables(tmp_path: Path) -> None:
    gl, _ = host(tmp_path, INTUNE_FILE=" build/app.ipa ", INTUNE_CLIENT_ID="",
                 INTUNE_DRY_RUN="true", INPUT_PUBLISHER="ignored")
    values = gl.read_inputs(["file", "client-id", "dry-run", "publisher"])
    assert values == {"file": "build/app.ipa", "client-id": None, "dry-run": "true",
                      "publisher": None}
    assert gl.input_sources == {"file": "INTUNE_FILE", "dry-run": "INTUNE_DRY_RUN"}
    assert gl.workspace() == tmp_path


def test_the_section_lines_are_the_documented_ones() -> None:
    """docs.gitlab.com ci/jobs/job_logs: \\e[0Ksection_start:<ts>:<name>[collapsed=true]\\r\\e[0K
    <header> ... \\e[0Ksection_end:<ts>:<name>\\r\\e[0K"""
    assert section_start("my_first_section", "Header of the 1st collapsible section",
                         now=1560896352) == ("\x1b[0Ksection_start:1560896352:my_first_section"
                                             "\r\x1b[0KHeader of the 1st collapsible section")
    assert section_start("s", "H", collapsed=True, now=1) == \
        "\x1b[0Ksection_start:1:s[collapsed=true]\r\x1b[0KH"
    assert section_end("my_first_section", now=1560896353) == \
        "\x1b[0Ksection_end:1560896353:my_first_section\r\x1b[0K"


def test_groups_open_and_close_one_named_section(tmp_path: Path) -> None:
    gl, out = host(tmp_path)
    with gl.group("Upload: app.ipa (2/3)"):
        gl.info("inside")
    lines = out.getvalue().split("\n")  # the section lines carry a CR of their own
    start = re.fullmatch(r"\x1b\[0Ksection_start:\d+:([A-Za-z0-9_.-]+)\r\x1b\[0K.*Upload.*",
                         lines[0])
    assert start is not None
    assert lines[1] == "inside"
    assert re.fullmatch(rf"\x1b\[0Ksection_end:\d+:{re.escape(start.group(1))}\r\x1b\[0K",
                        lines[2])


def test_outputs_are_a_valid_dotenv_report_appended(tmp_path: Path) -> None:
    gl, out = host(tmp_path)
    gl.set_outputs({"app-id": "a1", "app-url": "https://intune.microsoft.com/#view/x=1;y"})
    gl.set_outputs({"app-id": "a2"})
    values = gitlab_dotenv((tmp_path / "intune.env").read_bytes())
    assert values == {"INTUNE_OUTPUT_APP_ID": "a2",
                      "INTUNE_OUTPUT_APP_URL": "https://intune.microsoft.com/#view/x=1;y"}
    assert "INTUNE_OUTPUT_APP_ID=a2" in out.getvalue()


def test_the_dotenv_path_can_move(tmp_path: Path) -> None:
    gl, _ = host(tmp_path, INTUNE_STEP_DOTENV="reports/publish.env")
    gl.set_outputs({"app-id": "a"})
    assert (tmp_path / "reports" / "publish.env").read_text() == "INTUNE_OUTPUT_APP_ID=a\n"
    absolute = tmp_path / "abs.env"
    gl, _ = host(tmp_path, INTUNE_STEP_DOTENV=str(absolute))
    gl.set_outputs({"app-id": "b"})
    assert absolute.read_text() == "INTUNE_OUTPUT_APP_ID=b\n"


def test_an_unterminated_existing_report_is_not_merged_into(tmp_path: Path) -> None:
    (tmp_path / "intune.env").write_text("OTHER=1")
    gl, _ = host(tmp_path)
    gl.set_outputs({"app-id": "a"})
    assert gitlab_dotenv((tmp_path / "intune.env").read_bytes()) == {
        "OTHER": "1", "INTUNE_OUTPUT_APP_ID": "a"}


def test_a_secret_is_never_printed_nor_written(tmp_path: Path) -> None:
    gl, out = host(tmp_path)
    gl.mask(SECRET)
    assert out.getvalue() == ""  # GitLab has no masking command: nothing to announce
    gl.info(f"token {SECRET}")
    gl.warning(f"warn {SECRET}")
    gl.error(f"failed {SECRET}")
    with gl.group(f"group {SECRET}"):
        pass
    gl.set_outputs({"app-url": f"https://x/{SECRET}"})
    gl.summary(f"| secret | {SECRET} |")
    everything = out.getvalue() + (tmp_path / "intune.env").read_text()
    assert SECRET not in everything
    assert "***" in everything


def test_errors_and_warnings_are_coloured_lines(tmp_path: Path) -> None:
    gl, out = host(tmp_path)
    gl.error("SettingsError: missing file\nsecond")
    gl.warning("careful")
    assert out.getvalue().splitlines() == [
        "\x1b[31;1mERROR: SettingsError: missing file\x1b[0m",
        "\x1b[31;1m  second\x1b[0m",
        "\x1b[33;1mWARNING: careful\x1b[0m",
    ]


def test_data_cannot_open_a_section_or_rewrite_a_line(tmp_path: Path) -> None:
    gl, out = host(tmp_path)
    gl.info("\x1b[0Ksection_start:1:fake\r\x1b[0Kfake header")
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()


def test_the_summary_goes_to_a_collapsed_section(tmp_path: Path) -> None:
    gl, out = host(tmp_path)
    gl.summary("### Published to Intune\n\n| App | Demo |\n")
    text = out.getvalue()
    assert "[collapsed=true]" in text.splitlines()[0]
    assert "### Published to Intune" in text and "| App | Demo |" in text
